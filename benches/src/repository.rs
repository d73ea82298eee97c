//! A Pegleg site repository in three layers made from a `gen_site.py` site,
//! for the rendering benchmarks: the site's networks, profiles and boot
//! actions in `global/`; an abstract node template in `global/`, one
//! abstract template per rack in `type/synthetic/` layered on it and
//! taking the rack's IPMI password from a secret by substitution; the
//! region, racks, secrets and every node (a file per rack) in
//! `site/<site>/`, each node layered on its rack's template. Rendered, the
//! nodes hold what the flat site's nodes hold (the password per rack) and
//! validate as cleanly.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use drydock_core::ingest::value::{Map, Value};
use drydock_core::ingest::yaml::{YamlLimits, parse_stream};
use drydock_core::render::emit::yaml_document;

/// The site's name in the repository.
pub const SITE: &str = "synthetic";

fn parse_one(text: &str) -> Value {
    parse_stream(text, &YamlLimits::default()).expect("generated YAML").remove(0).value
}

fn get<'v>(map: &'v Map, key: &str) -> Option<&'v Value> {
    map.get(key)
}

fn remove(map: &mut Map, key: &str) -> Option<Value> {
    let position = map.entries.iter().position(|(existing, _)| existing.as_str() == Some(key))?;
    Some(map.entries.remove(position).1)
}

fn as_map_mut(value: &mut Value) -> Option<&mut Map> {
    match value {
        Value::Map(map) => Some(map),
        _ => None,
    }
}

/// A document: `schema`, metadata from flow YAML `metadata`, `data`.
fn document(schema: &str, metadata: &str, data: Value) -> String {
    let mut value = parse_one(&format!("schema: {schema}\nmetadata: {metadata}\n"));
    if let Some(map) = as_map_mut(&mut value) {
        map.entries.push((Value::Str("data".into()), data));
    }
    yaml_document(&value)
}

fn normal(name: &str, layer: &str, extra: &str) -> String {
    format!("{{schema: metadata/Document/v1, name: '{name}', storagePolicy: cleartext, layeringDefinition: {{layer: {layer}{extra}}}}}")
}

fn write(root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().expect("a folder")).expect("create folders");
    std::fs::write(path, text).expect("write");
}

/// Write the repository of `site_text` (a `gen_site.py` site) at `root`.
pub fn write_repository(site_text: &str, root: &Path) {
    let mut global = BTreeMap::<&str, String>::new();
    let mut site = String::new();
    let mut racks: BTreeMap<String, String> = BTreeMap::new();
    let mut nodes: BTreeMap<String, String> = BTreeMap::new();
    for parsed in parse_stream(site_text, &YamlLimits::default()).expect("gen_site.py output") {
        let Value::Map(mut map) = parsed.value else { continue };
        let schema = get(&map, "schema").and_then(Value::as_str).unwrap_or_default().to_owned();
        let name = get(&map, "metadata")
            .and_then(Value::as_map)
            .and_then(|metadata| metadata.get("name"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let mut data = remove(&mut map, "data").unwrap_or(Value::Null);
        match schema.as_str() {
            "drydock/NetworkLink/v1" | "drydock/Network/v1" => {
                global.entry("networks").or_default().push_str(&document(&schema, &normal(&name, "global", ""), data))
            }
            "drydock/HardwareProfile/v1" | "drydock/HostProfile/v1" => {
                global.entry("profiles").or_default().push_str(&document(&schema, &normal(&name, "global", ""), data))
            }
            "drydock/BootAction/v1" => {
                global.entry("bootactions").or_default().push_str(&document(&schema, &normal(&name, "global", ""), data))
            }
            "drydock/BaremetalNode/v1" => {
                let Some(fields) = as_map_mut(&mut data) else { continue };
                let rack = fields
                    .entries
                    .iter_mut()
                    .find(|(key, _)| key.as_str() == Some("metadata"))
                    .and_then(|(_, metadata)| as_map_mut(metadata))
                    .and_then(|metadata| remove(metadata, "rack"))
                    .and_then(|rack| rack.as_str().map(str::to_owned))
                    .unwrap_or_else(|| "rack00".into());
                let mut credential = None;
                if let Some((_, oob)) = fields.entries.iter_mut().find(|(key, _)| key.as_str() == Some("oob"))
                    && let Some(oob) = as_map_mut(oob)
                {
                    remove(oob, "account");
                    credential = remove(oob, "credential").and_then(|value| value.as_str().map(str::to_owned));
                }
                if fields.get("oob").and_then(Value::as_map).is_some_and(Map::is_empty) {
                    remove(fields, "oob");
                }
                racks.entry(rack.clone()).or_insert_with(|| credential.unwrap_or_else(|| "changeme".into()));
                let extra = format!(", parentSelector: {{rack: {rack}}}, actions: [{{method: merge, path: .}}]");
                nodes.entry(rack).or_default().push_str(&document(&schema, &normal(&name, "site", &extra), data));
            }
            _ => site.push_str(&document(&schema, &normal(&name, "site", ""), data)),
        }
    }
    write(
        root,
        "global/layering-policy.yaml",
        "---\nschema: deckhand/LayeringPolicy/v1\nmetadata: {schema: metadata/Control/v1, name: layering-policy}\ndata: {layerOrder: [global, type, site]}\n",
    );
    for (file, text) in &global {
        write(root, &format!("global/{file}.yaml"), text);
    }
    write(
        root,
        "global/node-template.yaml",
        &document(
            "drydock/BaremetalNode/v1",
            "{schema: metadata/Document/v1, name: node-global, storagePolicy: cleartext, labels: {template: node}, layeringDefinition: {layer: global, abstract: true}}",
            parse_one("oob: {account: admin}"),
        ),
    );
    let mut templates = String::new();
    let mut secrets = String::new();
    for (rack, credential) in &racks {
        let metadata = format!(
            "{{schema: metadata/Document/v1, name: {rack}-nodes, storagePolicy: cleartext, labels: {{rack: {rack}}}, \
             layeringDefinition: {{layer: type, abstract: true, parentSelector: {{template: node}}, actions: [{{method: merge, path: .}}]}}, \
             substitutions: [{{src: {{schema: deckhand/Passphrase/v1, name: {rack}-ipmi, path: .}}, dest: {{path: .oob.credential}}}}]}}"
        );
        templates.push_str(&document("drydock/BaremetalNode/v1", &metadata, parse_one(&format!("metadata: {{rack: {rack}}}"))));
        secrets.push_str(&document("deckhand/Passphrase/v1", &normal(&format!("{rack}-ipmi"), "site", ""), Value::Str(credential.clone())));
    }
    write(root, "type/synthetic/baremetal/racks.yaml", &templates);
    let mut definition = String::new();
    let _ = write!(
        definition,
        "---\nschema: pegleg/SiteDefinition/v1\nmetadata: {}\ndata: {{site_type: synthetic}}\n",
        normal(SITE, "site", "")
    );
    write(root, &format!("site/{SITE}/site-definition.yaml"), &definition);
    write(root, &format!("site/{SITE}/site.yaml"), &site);
    write(root, &format!("site/{SITE}/secrets/passphrases.yaml"), &secrets);
    for (rack, text) in &nodes {
        write(root, &format!("site/{SITE}/baremetal/{rack}.yaml"), text);
    }
}
