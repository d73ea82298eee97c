//! `drydock/Rack/v1` → [`Rack`] (compat: site-design spec §2.7).

use super::coerce::{MapResult, as_map, key_string, opt_string, string_list, string_map, sub_map};
use crate::ingest::value::Map;
use crate::model::{DocMeta, Rack, TorSwitch};

pub(super) fn map(meta: DocMeta, data: &Map) -> MapResult<Rack> {
    let mut tor_switches = Vec::new();
    if let Some(switches) = sub_map(data, "tor_switches")? {
        for (key, value) in &switches.entries {
            let name = key_string(key, "tor_switches")?;
            let entry = as_map(value, &format!("tor_switches[{name}]"))?;
            tor_switches.push(TorSwitch {
                mgmt_ip: opt_string(entry, "mgmt_ip")?,
                // compat §2.7: the original reads the documented `sdn_api_uri` from `sdn_api_url`.
                sdn_api_uri: opt_string(entry, "sdn_api_url")?,
                name,
            });
        }
    }
    Ok(Rack { meta, tor_switches, location: string_map(data, "location")?, local_networks: string_list(data, "local_networks")? })
}
