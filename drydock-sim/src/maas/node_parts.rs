//! Per-node sub-resources: dispatch for interfaces (`node_interfaces.rs`)
//! and storage (`node_storage.rs`: block devices, partitions, volume groups,
//! logical volumes), plus the node lookups both share. Compat: drivers.md
//! §3.3 "Interfaces" and "Block devices, partitions, volume groups".

use super::model::Node;
use super::node_interfaces::interfaces;
use super::node_storage::{block_devices, partitions, volume_groups};
use super::{Ctx, HResult, Reply};

pub(crate) fn handle(ctx: &mut Ctx<'_>, handler: &str) -> HResult {
    let sid = ctx.param("system_id").to_owned();
    if ctx.world.region.node(&sid).is_none() {
        return Err(Reply::not_found("Node"));
    }
    let op = ctx.op.clone();
    match handler {
        "InterfacesHandler" | "InterfaceHandler" => interfaces(ctx, &sid, handler, op.as_deref()),
        "BlockDevicesHandler" | "BlockDeviceHandler" => block_devices(ctx, &sid, handler, op.as_deref()),
        "PartitionsHandler" | "PartitionHandler" => partitions(ctx, &sid, handler, op.as_deref()),
        _ => volume_groups(ctx, &sid, handler, op.as_deref()),
    }
}

pub(super) fn node<'a>(ctx: &'a Ctx<'_>, sid: &str) -> Result<&'a Node, Reply> {
    ctx.world.region.node(sid).ok_or_else(|| Reply::not_found("Node"))
}

pub(super) fn node_mut<'a>(ctx: &'a mut Ctx<'_>, sid: &str) -> Result<&'a mut Node, Reply> {
    ctx.world.region.node_mut(sid).ok_or_else(|| Reply::not_found("Node"))
}
