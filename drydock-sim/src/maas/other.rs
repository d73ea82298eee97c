//! The remaining MaaS resources: version, account and users, region
//! config, tags, zones and pools, boot resources and sources, package
//! repositories, script results and SSH keys (compat: drivers.md §3.3).

use super::django::already_exists;
use super::{Body, Ctx, HResult, REQUIRED, Reply, json};
use base64::Engine as _;
use serde_json::{Map, Value, json as j};

pub(crate) fn version() -> Reply {
    Reply::json(j!({
        "capabilities": ["networks-management", "static-ipaddresses", "ipv6-deployment-ubuntu", "devices-management",
                         "storage-deployment-ubuntu", "network-deployment-ubuntu", "bridging-interface-ubuntu",
                         "bridging-automatic-ubuntu", "authenticate-api"],
        "version": "3.4.0",
        "subversion": "",
    }))
}

pub(crate) fn handle(ctx: &mut Ctx<'_>, handler: &str) -> HResult {
    let op = ctx.op.clone();
    match (handler, ctx.method, op.as_deref()) {
        ("AccountHandler", "GET", Some("list_authorisation_tokens")) => {
            let user = ctx.user.clone();
            let tokens: Vec<Value> = ctx
                .world
                .keys
                .iter()
                .filter(|k| k.username == user)
                .map(|k| j!({"name": "drydock-sim", "token": k.to_key_string()}))
                .collect();
            Ok(Reply::json(Value::from(tokens)))
        }
        ("AccountHandler", "POST", Some("create_authorisation_token")) => {
            let n = ctx.world.keys.len() + 1;
            let key = super::oauth::ApiKey {
                username: ctx.user.clone(),
                consumer_key: format!("SimConsumerKey{n:04}"),
                token_key: format!("SimTokenKey{n:07}"),
                token_secret: format!("SimTokenSecret{n:018}"),
            };
            ctx.world.keys.push(key.clone());
            Ok(Reply::json(
                j!({"name": ctx.arg("name").unwrap_or("token"), "token_key": key.token_key, "token_secret": key.token_secret, "consumer_key": key.consumer_key}),
            ))
        }
        ("AccountHandler", "POST", Some("delete_authorisation_token")) => {
            let token = ctx.arg("token_key").unwrap_or("").to_owned();
            ctx.world.keys.retain(|k| k.token_key != token);
            Ok(Reply::empty())
        }
        ("UsersHandler", "GET", None) => Ok(Reply::json(j!([json::user("admin")]))),
        ("UsersHandler", "GET", Some("whoami")) | ("UserHandler", "GET", None) => Ok(Reply::json(json::user(&ctx.user))),
        ("MaasHandler", "GET", Some("get_config")) => {
            let name = ctx.arg("name").ok_or_else(|| Reply::field("name", "This field is required."))?;
            Ok(Reply::json(ctx.world.region.config.get(name).cloned().unwrap_or(Value::Null)))
        }
        ("MaasHandler", "POST", Some("set_config")) => {
            let name = ctx.arg("name").ok_or_else(|| Reply::field("name", "This field is required."))?.to_owned();
            let value = ctx.arg("value").unwrap_or("").to_owned();
            ctx.world.region.config.insert(name, Value::from(value));
            Ok(Reply::json(Value::from("OK")))
        }
        ("TagsHandler" | "TagHandler", _, _) => tags(ctx, handler, op.as_deref()),
        ("ZonesHandler" | "ResourcePoolsHandler", "GET", None) => {
            let kind = if handler == "ZonesHandler" { "zones" } else { "resourcepool" };
            Ok(Reply::json(j!([json::zone_like(kind, "default")])))
        }
        ("ZoneHandler" | "ResourcePoolHandler", "GET", None) => {
            let key = if handler == "ZoneHandler" { ctx.param("name") } else { ctx.param("id") };
            if key == "default" || key == "0" || key == "1" {
                let kind = if handler == "ZoneHandler" { "zones" } else { "resourcepool" };
                Ok(Reply::json(json::zone_like(kind, "default")))
            } else {
                Err(Reply::not_found(if handler == "ZoneHandler" { "Zone" } else { "ResourcePool" }))
            }
        }
        ("ZonesHandler" | "ResourcePoolsHandler" | "ZoneHandler" | "ResourcePoolHandler", _, _) => {
            Err(Reply::text(403, "Zones and resource pools are read-only in drydock-sim."))
        }
        ("BootResourcesHandler", "GET", None) => {
            let kind = ctx.arg("type").map(str::to_owned);
            let list: Vec<Value> = ctx
                .world
                .region
                .boot_resources
                .iter()
                .filter(|_| kind.as_deref().is_none_or(|k| k.eq_ignore_ascii_case("synced")))
                .map(|r| boot_resource(r, false))
                .collect();
            Ok(Reply::json(Value::from(list)))
        }
        ("BootResourcesHandler", "GET", Some("is_importing")) => Ok(Reply::json(Value::from(ctx.world.region.importing))),
        // MaaS answers both in plain text.
        ("BootResourcesHandler", "POST", Some("import")) => {
            import_selected(&mut ctx.world.region);
            Ok(Reply::text(200, "Import of boot resources started"))
        }
        ("BootResourcesHandler", "POST", Some("stop_import")) => Ok(Reply::text(200, "Import of boot resources is being stopped")),
        ("BootResourcesHandler", "POST", None) => Err(Reply::text(400, "Uploading boot resources is not supported by drydock-sim.")),
        ("BootResourceHandler", "GET", None) => {
            let id = ctx.id_param("id", "BootResource")?;
            let r = ctx.world.region.boot_resources.iter().find(|r| r.0 == id).ok_or_else(|| Reply::not_found("BootResource"))?;
            Ok(Reply::json(boot_resource(r, true)))
        }
        ("BootResourceHandler", "DELETE", None) => {
            let id = ctx.id_param("id", "BootResource")?;
            ctx.world.region.boot_resources.retain(|r| r.0 != id);
            Ok(Reply::empty())
        }
        ("BootSourcesHandler" | "BootSourceHandler", _, _) => boot_sources(ctx, handler),
        ("BootSourceSelectionsHandler" | "BootSourceSelectionHandler", _, _) => selections(ctx, handler),
        ("PackageRepositoriesHandler" | "PackageRepositoryHandler", _, _) => repositories(ctx, handler),
        ("NodeResultsHandler", "GET", None) => Ok(results(ctx)),
        ("SSHKeysHandler" | "SSHKeyHandler", _, _) => ssh_keys(ctx, handler),
        _ => Err(ctx.unknown_op()),
    }
}

/// A boot resource as `boot_resource_to_dict` renders it: `subarches`
/// (from the resource's extra data) only for OS images, not bootloaders;
/// the detail adds `title` and the sets with their files.
fn boot_resource(r: &(i64, String, String, Vec<String>), detail: bool) -> Value {
    let mut value = j!({"id": r.0, "type": "Synced", "name": r.1, "architecture": r.2,
                        "resource_uri": format!("{}/boot-resources/{}/", json::API, r.0)});
    let bootloader = ["grub-", "pxelinux/", "uboot/"].iter().any(|prefix| r.1.starts_with(prefix));
    if !bootloader {
        value["subarches"] = Value::from(r.3.join(","));
    }
    if detail {
        value["title"] = Value::from(r.1.clone());
        let file = |name: &str, size: u64| j!({"filename": name, "filetype": name, "sha256": format!("{:064x}", r.0 as u64 * 1000 + size), "size": size, "complete": true});
        let files = if bootloader {
            j!({"bootx64.efi": file("bootx64.efi", 1_000_000), "grubx64.efi": file("grubx64.efi", 2_000_000)})
        } else {
            j!({"boot-initrd": file("boot-initrd", 60_000_000), "boot-kernel": file("boot-kernel", 10_000_000),
                "squashfs": file("squashfs", 400_000_000)})
        };
        let total: u64 = files.as_object().map(|m| m.values().filter_map(|f| f["size"].as_u64()).sum()).unwrap_or(0);
        value["sets"] = j!({"20260101": {"version": "20260101", "size": total, "label": "stable", "complete": true, "files": files}});
    }
    value
}

fn tag_json(tag: &super::model::Tag) -> Value {
    j!({"name": tag.name, "definition": tag.definition, "comment": tag.comment, "kernel_opts": tag.kernel_opts,
        "resource_uri": format!("{}/tags/{}/", json::API, tag.name)})
}

fn tags(ctx: &mut Ctx<'_>, handler: &str, op: Option<&str>) -> HResult {
    if handler == "TagsHandler" {
        if ctx.method == "GET" {
            return Ok(Reply::json(Value::from(ctx.world.region.tags.values().map(tag_json).collect::<Vec<_>>())));
        }
        // TagForm: `name` is required, matches `^[a-zA-Z0-9_-]+$` (Django's
        // RegexValidator text) and is unique.
        let name = ctx.arg("name").filter(|n| !n.is_empty()).ok_or_else(|| Reply::field("name", REQUIRED))?.to_owned();
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err(Reply::field("name", "Enter a valid value."));
        }
        if ctx.world.region.tags.contains_key(&name) {
            return Err(Reply::field("name", already_exists("Tag", "Name")));
        }
        let tag = super::model::Tag {
            name: name.clone(),
            definition: ctx.arg("definition").unwrap_or("").to_owned(),
            comment: ctx.arg("comment").unwrap_or("").to_owned(),
            kernel_opts: ctx.arg("kernel_opts").unwrap_or("").to_owned(),
        };
        let value = tag_json(&tag);
        ctx.world.region.tags.insert(name, tag);
        return Ok(Reply::json(value));
    }
    let name = ctx.param("name").to_owned();
    let Some(mut tag) = ctx.world.region.tags.get(&name).cloned() else {
        return Err(Reply::not_found("Tag"));
    };
    match (ctx.method, op) {
        ("GET", None) => Ok(Reply::json(tag_json(&tag))),
        ("GET", Some("nodes" | "machines" | "devices" | "rack_controllers" | "region_controllers")) => {
            let region = &ctx.world.region;
            let pool: Vec<&super::model::Node> = match op {
                Some("machines") => region.machines.values().collect(),
                Some("rack_controllers") => region.racks.values().collect(),
                Some("nodes") => region.machines.values().chain(region.racks.values()).collect(),
                _ => vec![],
            };
            let list: Vec<Value> = pool
                .into_iter()
                .filter(|n| n.tags.contains(&name))
                .map(|n| json::node(region, n, ctx.world.power_of(&n.system_id).as_str()))
                .collect();
            Ok(Reply::json(Value::from(list)))
        }
        ("POST", Some("update_nodes")) => {
            // MaaS answers a stale definition with a 409 text; it does not
            // refuse manual changes to an automatic tag.
            if let Some(def) = ctx.arg("definition")
                && def != tag.definition
            {
                return Err(Reply::conflict(format!("Definition supplied '{def}' doesn't match current definition '{}'", tag.definition)));
            }
            let (add, remove) = (ctx.args.all("add").to_vec(), ctx.args.all("remove").to_vec());
            let (mut added, mut removed) = (0, 0);
            for sid in add {
                if let Some(node) = ctx.world.region.node_mut(&sid) {
                    added += usize::from(node.tags.insert(name.clone()));
                }
            }
            for sid in remove {
                if let Some(node) = ctx.world.region.node_mut(&sid) {
                    removed += usize::from(node.tags.remove(&name));
                }
            }
            Ok(Reply::json(j!({"added": added, "removed": removed})))
        }
        ("POST", Some("rebuild")) => Ok(Reply::json(j!({"rebuilding": name}))),
        ("PUT", None) => {
            if let Some(new_name) = ctx.arg("name").filter(|n| *n != name) {
                if new_name.is_empty() {
                    return Err(Reply::field("name", REQUIRED));
                }
                if !new_name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                    return Err(Reply::field("name", "Enter a valid value."));
                }
                if ctx.world.region.tags.contains_key(new_name) {
                    return Err(Reply::field("name", already_exists("Tag", "Name")));
                }
            }
            for (field, slot) in [("comment", &mut tag.comment), ("definition", &mut tag.definition), ("kernel_opts", &mut tag.kernel_opts)]
            {
                if let Some(v) = ctx.args.get(field) {
                    *slot = v.to_owned();
                }
            }
            let new_name = ctx.arg("name").unwrap_or(&name).to_owned();
            ctx.world.region.tags.remove(&name);
            tag.name = new_name.clone();
            let value = tag_json(&tag);
            ctx.world.region.tags.insert(new_name.clone(), tag);
            if new_name != name {
                let sids: Vec<String> =
                    ctx.world.region.machines.values().filter(|m| m.tags.contains(&name)).map(|m| m.system_id.clone()).collect();
                for sid in sids {
                    if let Some(node) = ctx.world.region.node_mut(&sid) {
                        node.tags.remove(&name);
                        node.tags.insert(new_name.clone());
                    }
                }
            }
            Ok(Reply::json(value))
        }
        ("DELETE", None) => {
            ctx.world.region.tags.remove(&name);
            let sids: Vec<String> = ctx
                .world
                .region
                .machines
                .values()
                .chain(ctx.world.region.racks.values())
                .filter(|m| m.tags.contains(&name))
                .map(|m| m.system_id.clone())
                .collect();
            for sid in sids {
                if let Some(node) = ctx.world.region.node_mut(&sid) {
                    node.tags.remove(&name);
                }
            }
            Ok(Reply::empty())
        }
        _ => Err(ctx.unknown_op()),
    }
}

/// A resource that is only stored (fields as strings), for `stored_crud`.
struct Stored<'a> {
    id_param: &'a str,
    kind: &'a str,
    store: fn(&mut super::model::Region) -> &mut std::collections::BTreeMap<i64, Map<String, Value>>,
    fields: &'a [&'a str],
    uri: &'a dyn Fn(i64, &Map<String, Value>) -> String,
    defaults: &'a dyn Fn(&mut Map<String, Value>),
}

fn stored_crud(ctx: &mut Ctx<'_>, collection: bool, resource: Stored<'_>) -> HResult {
    let Stored { id_param, kind, store, fields, uri, defaults } = resource;
    let render = |id: i64, m: &Map<String, Value>| {
        let mut v = m.clone();
        v.insert("id".into(), Value::from(id));
        v.insert("resource_uri".into(), Value::from(uri(id, m)));
        Value::Object(v)
    };
    let args = ctx.args.clone();
    let apply = |m: &mut Map<String, Value>| {
        for field in fields {
            if args.has(field) {
                m.insert((*field).to_owned(), Value::from(args.get(field).unwrap_or("").to_owned()));
            }
        }
    };
    if collection {
        if ctx.method == "GET" {
            let list: Vec<Value> = store(&mut ctx.world.region).iter().map(|(id, m)| render(*id, m)).collect();
            return Ok(Reply::json(Value::from(list)));
        }
        let mut m = Map::new();
        defaults(&mut m);
        apply(&mut m);
        let id = ctx.world.region.new_id();
        let value = render(id, &m);
        store(&mut ctx.world.region).insert(id, m);
        return Ok(Reply { status: 201, body: Body::Json(value) });
    }
    let id = ctx.id_param(id_param, kind)?;
    let Some(mut m) = store(&mut ctx.world.region).get(&id).cloned() else {
        return Err(Reply::not_found(kind));
    };
    match ctx.method {
        "GET" => Ok(Reply::json(render(id, &m))),
        "DELETE" => {
            store(&mut ctx.world.region).remove(&id);
            Ok(Reply::empty())
        }
        _ => {
            apply(&mut m);
            let value = render(id, &m);
            store(&mut ctx.world.region).insert(id, m);
            Ok(Reply::json(value))
        }
    }
}

fn boot_sources(ctx: &mut Ctx<'_>, handler: &str) -> HResult {
    let resource = Stored {
        id_param: "id",
        kind: "BootSource",
        store: |r| &mut r.boot_sources,
        fields: &["url", "keyring_filename", "keyring_data", "skip_keyring_verification"],
        uri: &|id, _| format!("{}/boot-sources/{id}/", json::API),
        defaults: &|m| {
            m.insert("keyring_filename".into(), Value::from(""));
            m.insert("keyring_data".into(), Value::from(""));
            m.insert("created".into(), Value::from("2026-01-01T00:00:00.000"));
            m.insert("updated".into(), Value::from("2026-01-01T00:00:00.000"));
        },
    };
    stored_crud(ctx, handler == "BootSourcesHandler", resource)
}

fn selections(ctx: &mut Ctx<'_>, handler: &str) -> HResult {
    let source = ctx.id_param("boot_source_id", "BootSource")?;
    if !ctx.world.region.boot_sources.contains_key(&source) {
        return Err(Reply::not_found("BootSource"));
    }
    if handler == "BootSourceSelectionsHandler" && ctx.method == "GET" {
        let list: Vec<Value> = ctx
            .world
            .region
            .selections
            .iter()
            .filter(|(_, m)| m.get("boot_source_id").and_then(Value::as_i64) == Some(source))
            .map(|(id, m)| {
                let mut v = m.clone();
                v.insert("id".into(), Value::from(*id));
                v.insert("resource_uri".into(), Value::from(format!("{}/boot-sources/{source}/selections/{id}/", json::API)));
                Value::Object(v)
            })
            .collect();
        return Ok(Reply::json(Value::from(list)));
    }
    let resource = Stored {
        id_param: "id",
        kind: "BootSourceSelection",
        store: |r| &mut r.selections,
        fields: &["os", "release"],
        uri: &|id, m| {
            format!("{}/boot-sources/{}/selections/{id}/", json::API, m.get("boot_source_id").and_then(Value::as_i64).unwrap_or(0))
        },
        defaults: &|_| {},
    };
    let reply = stored_crud(ctx, handler == "BootSourceSelectionsHandler", resource);
    // Lists and the source id are stored as JSON values, not strings.
    if let Ok(Reply { body: Body::Json(Value::Object(obj)), .. }) = &reply
        && let Some(id) = obj.get("id").and_then(Value::as_i64)
    {
        let lists: Vec<(String, Vec<String>)> = ["arches", "subarches", "labels"]
            .iter()
            .filter(|f| ctx.args.has(f))
            .map(|f| (f.to_string(), ctx.args.all(f).to_vec()))
            .collect();
        if let Some(m) = ctx.world.region.selections.get_mut(&id) {
            m.insert("boot_source_id".into(), Value::from(source));
            for (field, values) in lists {
                m.insert(field, Value::from(values));
            }
            for field in ["arches", "subarches", "labels"] {
                m.entry(field).or_insert_with(|| j!(["*"]));
            }
            let mut v = m.clone();
            v.insert("id".into(), Value::from(id));
            v.insert("resource_uri".into(), Value::from(format!("{}/boot-sources/{source}/selections/{id}/", json::API)));
            let status = reply.as_ref().map(|r| r.status).unwrap_or(200);
            return Ok(Reply { status: if status == 201 { 200 } else { status }, body: Body::Json(Value::Object(v)) });
        }
    }
    reply
}

const REPO_LISTS: [&str; 5] = ["distributions", "components", "arches", "disabled_pockets", "disabled_components"];
/// `PackageRepository.KNOWN_ARCHES` (MAIN_ARCHES + PORTS_ARCHES).
const KNOWN_ARCHES: [&str; 6] = ["amd64", "i386", "armhf", "arm64", "ppc64el", "s390x"];

fn repo_json(id: i64, m: &Map<String, Value>) -> Value {
    let mut v = m.clone();
    v.insert("id".into(), Value::from(id));
    v.insert("resource_uri".into(), Value::from(format!("{}/package-repositories/{id}/", json::API)));
    Value::Object(v)
}

fn repositories(ctx: &mut Ctx<'_>, handler: &str) -> HResult {
    if handler == "PackageRepositoriesHandler" && ctx.method == "GET" {
        return Ok(Reply::json(Value::from(ctx.world.region.repositories.iter().map(|(id, m)| repo_json(*id, m)).collect::<Vec<_>>())));
    }
    let (id, mut m) = if handler == "PackageRepositoryHandler" {
        let id = ctx.id_param("id", "PackageRepository")?;
        let m = ctx.world.region.repositories.get(&id).cloned().ok_or_else(|| Reply::not_found("PackageRepository"))?;
        match ctx.method {
            "GET" => return Ok(Reply::json(repo_json(id, &m))),
            "DELETE" => {
                if id <= 2 {
                    return Err(Reply::text(400, "Cannot delete default Ubuntu archives."));
                }
                ctx.world.region.repositories.remove(&id);
                return Ok(Reply::empty());
            }
            _ => (Some(id), m),
        }
    } else {
        let mut missing: Vec<(&str, String)> = Vec::new();
        for field in ["name", "url"] {
            if ctx.arg(field).is_none_or(str::is_empty) {
                missing.push((field, REQUIRED.into()));
            }
        }
        if !missing.is_empty() {
            return Err(Reply::fields(&missing));
        }
        let name = ctx.arg("name").unwrap_or_default();
        let mut m = Map::new();
        m.insert("name".into(), Value::from(name));
        for (k, v) in [("key", j!("")), ("enabled", j!(true)), ("disable_sources", j!(true))] {
            m.insert(k.into(), v);
        }
        for list in REPO_LISTS {
            m.insert(list.into(), j!([]));
        }
        (None, m)
    };
    if let Some(name) = ctx.arg("name") {
        if ctx.world.region.repositories.iter().any(|(other, r)| Some(*other) != id && r.get("name").and_then(Value::as_str) == Some(name))
        {
            return Err(Reply::field("name", already_exists("Package repository", "Name")));
        }
        m.insert("name".into(), Value::from(name));
    }
    for field in ["url", "key"] {
        if let Some(v) = ctx.arg(field) {
            m.insert(field.into(), Value::from(v));
        }
    }
    for field in ["enabled", "disable_sources"] {
        if let Some(v) = ctx.arg(field) {
            m.insert(field.into(), Value::from(super::form::parse_bool(v)));
        }
    }
    for field in REPO_LISTS {
        if ctx.args.has(field) {
            let values: Vec<String> =
                ctx.args.all(field).iter().flat_map(|v| v.split(',')).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()).collect();
            // PackageRepositoryForm's clean_<field> texts (MaaS 2.9.2).
            let default_repo = id.is_some_and(|i| i <= 2);
            let reset = matches!(values.as_slice(), [one] if one == "None" || one == "[]");
            let values = if reset { Vec::new() } else { values };
            if field == "arches"
                && let Some(bad) = values.iter().find(|a| !KNOWN_ARCHES.contains(&a.as_str()))
            {
                let mut known = KNOWN_ARCHES.to_vec();
                known.sort_unstable();
                return Err(Reply::field(field, format!("'{bad}' is not a valid architecture. Known architectures: {}", known.join(", "))));
            }
            if field == "disabled_pockets"
                && let Some(bad) = values.iter().find(|p| !matches!(p.as_str(), "updates" | "security" | "backports"))
            {
                return Err(Reply::field(
                    field,
                    format!("'{bad}' is not a valid Ubuntu archive pocket. You can only disable ['updates', 'security', 'backports']."),
                ));
            }
            if field == "disabled_components" && !values.is_empty() {
                if !default_repo {
                    return Err(Reply::field(field, "This is a custom repository. Please update 'components' instead."));
                }
                if let Some(bad) = values.iter().find(|c| !matches!(c.as_str(), "restricted" | "universe" | "multiverse")) {
                    return Err(Reply::field(
                        field,
                        format!(
                            "'{bad}' is not a valid Ubuntu archive component. You can only disable ['restricted', 'universe', 'multiverse']."
                        ),
                    ));
                }
            }
            if field == "components" && !values.is_empty() && default_repo {
                return Err(Reply::field(field, "This is a default Ubuntu repository. Please update 'disabled_components' instead."));
            }
            m.insert(field.into(), Value::from(values));
        }
    }
    let id = match id {
        Some(id) => id,
        None => ctx.world.region.new_id(),
    };
    let value = repo_json(id, &m);
    ctx.world.region.repositories.insert(id, m);
    Ok(Reply::json(value))
}

fn results(ctx: &mut Ctx<'_>) -> Reply {
    let sids = ctx.args.all("system_id").to_vec();
    let path_sid = ctx.param("system_id").to_owned();
    let names = ctx.args.all("name").to_vec();
    let types: Vec<i64> = ctx.args.all("result_type").iter().filter_map(|t| t.parse().ok()).collect();
    let mut list = Vec::new();
    for node in ctx.world.region.machines.values() {
        if (!sids.is_empty() && !sids.contains(&node.system_id)) || (!path_sid.is_empty() && path_sid != node.system_id) {
            continue;
        }
        for result in &node.results {
            if (!names.is_empty() && !names.contains(&result.name)) || (!types.is_empty() && !types.contains(&result.result_type)) {
                continue;
            }
            let stdout = if result.name == "maas-lshw" && result.stdout.is_empty() {
                super::lifecycle::lshw_of(node).into_bytes()
            } else {
                result.stdout.clone()
            };
            let entry = |name: String, data: &[u8]| {
                j!({"id": result.id, "name": name, "script_result": result.exit_status, "result_type": result.result_type,
                    "created": result.created, "updated": result.created, "node": {"system_id": node.system_id},
                    "data": base64::engine::general_purpose::STANDARD.encode(data),
                    "resource_uri": format!("{}/commissioning-scripts/", json::API)})
            };
            list.push(entry(result.name.clone(), &stdout));
            if !result.stderr.is_empty() {
                list.push(entry(format!("{}.err", result.name), &result.stderr));
            }
        }
    }
    Reply::json(Value::from(list))
}

fn ssh_keys(ctx: &mut Ctx<'_>, handler: &str) -> HResult {
    let render = |id: i64, key: &str| j!({"id": id, "key": key, "keysource": null, "resource_uri": format!("{}/account/prefs/sshkeys/{id}/", json::API)});
    let user = ctx.user.clone();
    if handler == "SSHKeysHandler" {
        if ctx.method == "GET" {
            let list: Vec<Value> =
                ctx.world.region.ssh_keys.iter().filter(|(_, (u, _))| *u == user).map(|(id, (_, k))| render(*id, k)).collect();
            return Ok(Reply::json(Value::from(list)));
        }
        let key = ctx.arg("key").filter(|k| !k.is_empty()).ok_or_else(|| Reply::field("key", REQUIRED))?.trim().to_owned();
        if let Some(problem) = ssh_key_problem(&key) {
            return Err(Reply::field("key", format!("Invalid SSH public key: {problem}")));
        }
        if ctx.world.region.ssh_keys.values().any(|(u, k)| *u == user && *k == key) {
            return Err(Reply::field("__all__", "This key has already been added for this user."));
        }
        let id = ctx.world.region.new_id();
        ctx.world.region.ssh_keys.insert(id, (user, key.clone()));
        return Ok(Reply { status: 201, body: Body::Json(render(id, &key)) });
    }
    let id = ctx.id_param("id", "SSHKey")?;
    let (_, key) = ctx.world.region.ssh_keys.get(&id).cloned().ok_or_else(|| Reply::not_found("SSHKey"))?;
    if ctx.method == "DELETE" {
        ctx.world.region.ssh_keys.remove(&id);
        return Ok(Reply::empty());
    }
    Ok(Reply::json(render(id, &key)))
}

/// `normalise_openssh_public_key`'s first two checks (MaaS 2.9.2
/// provisioningserver/utils/sshkey.py); the key itself is only checked for
/// valid base64, where MaaS runs `ssh-keygen` (whose wording varies).
fn ssh_key_problem(key: &str) -> Option<String> {
    const TYPES: [&str; 6] = ["ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-dss", "ssh-ed25519", "ssh-rsa"];
    let parts: Vec<&str> = key.split_whitespace().collect();
    if parts.len() < 2 {
        let quoted: Vec<String> = parts.iter().map(|p| shell_quote(p)).collect();
        return Some(format!(
            "Key should contain 2 or more space separated parts (key type, base64-encoded key, optional comments), not {}: {}",
            parts.len(),
            quoted.join(" ")
        ));
    }
    if !TYPES.contains(&parts[0]) {
        return Some(format!("Key type {} not recognised; it should be one of: {}", shell_quote(parts[0]), TYPES.join(" ")));
    }
    if base64::engine::general_purpose::STANDARD.decode(parts[1]).is_err() {
        return Some("unable to decode the key (ssh-keygen refused it)".to_owned());
    }
    None
}

/// Python's `shlex.quote` (`pipes.quote`).
fn shell_quote(text: &str) -> String {
    let safe = !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c));
    if safe { text.to_owned() } else { format!("'{}'", text.replace('\'', "'\"'\"'")) }
}

/// Ubuntu release names and their versions (for `ga-`/`hwe-` kernels).
const UBUNTU_RELEASES: [(&str, &str); 6] =
    [("xenial", "16.04"), ("bionic", "18.04"), ("focal", "20.04"), ("jammy", "22.04"), ("noble", "24.04"), ("trusty", "14.04")];

/// An import completes at once: every selected Ubuntu release not yet
/// synced becomes boot resources (`amd64/ga-<ver>` and `amd64/hwe-<ver>`,
/// or `amd64/generic` for a release the simulator does not know).
fn import_selected(region: &mut super::model::Region) {
    let releases: Vec<String> = region
        .selections
        .values()
        .filter(|selection| selection.get("os").and_then(Value::as_str) == Some("ubuntu"))
        .filter_map(|selection| selection.get("release").and_then(Value::as_str).map(str::to_owned))
        .collect();
    for release in releases {
        add_ubuntu_release(region, &release);
    }
}

/// Add `ubuntu/<release>` boot resources unless they are there.
pub(crate) fn add_ubuntu_release(region: &mut super::model::Region, release: &str) {
    let name = format!("ubuntu/{release}");
    if region.boot_resources.iter().any(|resource| resource.1 == name) {
        return;
    }
    let arches: Vec<String> = match UBUNTU_RELEASES.iter().find(|(known, _)| *known == release) {
        Some((_, version)) => vec![format!("amd64/ga-{version}"), format!("amd64/hwe-{version}")],
        None => vec!["amd64/generic".to_owned()],
    };
    for arch in arches {
        let subarch = arch.split('/').nth(1).unwrap_or("generic").to_owned();
        let subarches = if subarch == "generic" { vec!["generic".into()] } else { vec!["generic".into(), subarch] };
        let id = region.boot_resources.iter().map(|resource| resource.0).max().unwrap_or(0) + 1;
        region.boot_resources.push((id, name.clone(), arch, subarches));
    }
}
