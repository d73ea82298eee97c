//! The libvirt OOB driver against a real peer, libvirt's built-in test
//! hypervisor (`test:///<fixture>`: no daemon, state per connection), with
//! `virsh` cross-checking the fixture and the XML the driver defines; and
//! `prepare_nodes` through the orchestrator on treasuremap's seaworthy-virt
//! site, its hypervisor replaced by the test one and its MaaS by drydock-sim.
//! Only loopback and the test hypervisor are ever contacted. Built with the
//! `driver-libvirt` feature (scripts/setup/libvirt.sh installs libvirt-dev,
//! libvirt-clients and openssh-client).

#![allow(unreachable_pub)]

#[path = "../common/mod.rs"]
mod common;
mod driver;
mod prepare_nodes;
mod support;
