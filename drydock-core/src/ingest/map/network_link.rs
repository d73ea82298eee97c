//! `drydock/NetworkLink/v1` → [`NetworkLink`] (compat: site-design spec §2.2),
//! including the bonding normalisation by mode.

use super::coerce::{MapError, MapResult, cannot_be_none, nullable_string_map, opt_int, opt_string, string_or, sub_map, to_string_list};
use crate::ingest::value::{Map, Value};
use crate::model::{BondingMode, DocMeta, NetworkLink, TrunkingMode};

pub(super) fn map(meta: DocMeta, data: &Map) -> MapResult<NetworkLink> {
    let empty = Map::default();
    let bonding = sub_map(data, "bonding")?.unwrap_or(&empty);
    let mode_text = string_or(bonding, "mode", "disabled")?;
    let bonding_mode = BondingMode::parse(&mode_text)
        .ok_or_else(|| MapError::new(format!("Field value {mode_text} is invalid")).at(Some(bonding.line)))?;
    let int_or = |key: &str, default: i64| -> MapResult<i64> { Ok(opt_int(bonding, key)?.unwrap_or(default)) };
    let (mon_rate, up_delay, down_delay, xmit_hash, peer_rate) = match bonding_mode {
        BondingMode::Disabled => (None, None, None, None, None),
        BondingMode::RoundRobin | BondingMode::ActiveBackup => {
            (Some(int_or("mon_rate", 100)?), Some(int_or("up_delay", 200)?), Some(int_or("down_delay", 200)?), None, None)
        }
        BondingMode::Lacp => (
            Some(int_or("mon_rate", 100)?),
            Some(int_or("up_delay", 200)?),
            Some(int_or("down_delay", 200)?),
            Some(string_or(bonding, "hash", "layer3+4")?),
            Some(string_or(bonding, "peer_rate", "fast")?),
        ),
    };
    let trunking = sub_map(data, "trunking")?.unwrap_or(&empty);
    let trunk_text = string_or(trunking, "mode", "disabled")?;
    let trunk_mode = TrunkingMode::parse(&trunk_text)
        .ok_or_else(|| MapError::new(format!("Field value {trunk_text} is invalid")).at(Some(trunking.line)))?;
    let allowed_networks = match data.get("allowed_networks") {
        None | Some(Value::Null) => return Err(cannot_be_none("allowed_networks").at(Some(data.line))),
        Some(value) => to_string_list(value, "allowed_networks")?,
    };
    Ok(NetworkLink {
        meta,
        bonding_mode,
        bonding_mon_rate: mon_rate,
        bonding_up_delay: up_delay,
        bonding_down_delay: down_delay,
        bonding_xmit_hash: xmit_hash,
        bonding_peer_rate: peer_rate,
        mtu: opt_int(data, "mtu")?.unwrap_or(1500),
        linkspeed: string_or(data, "linkspeed", "auto")?,
        trunk_mode,
        native_network: opt_string(trunking, "default_network")?,
        allowed_networks,
        labels: nullable_string_map(data, "labels")?,
    })
}
