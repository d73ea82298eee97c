//! The MaaS route table: handler names, path templates and actions.
//!
//! One table drives both request dispatch (`mod.rs`) and the `describe/`
//! document (`describe.rs`), so the two cannot disagree (compat:
//! drivers.md §3.3 and §3.8).

/// One action of a handler.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Action {
    /// `read`/`create`/`update`/`delete` or the op name.
    pub(crate) name: &'static str,
    /// HTTP method.
    pub(crate) method: &'static str,
    /// `op` query value for non-restful actions.
    pub(crate) op: Option<&'static str>,
}

/// One MaaS handler.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Route {
    /// MaaS handler name (`MachinesHandler`).
    pub(crate) handler: &'static str,
    /// Path template below `/MAAS/api/2.0/`.
    pub(crate) path: &'static str,
    /// Served without authentication.
    pub(crate) anon: bool,
    /// Listed in `describe/` (aliases are not).
    pub(crate) listed: bool,
    /// Actions.
    pub(crate) actions: &'static [Action],
}

const fn r(name: &'static str, method: &'static str) -> Action {
    Action { name, method, op: None }
}
const fn g(op: &'static str) -> Action {
    Action { name: op, method: "GET", op: Some(op) }
}
const fn p(op: &'static str) -> Action {
    Action { name: op, method: "POST", op: Some(op) }
}
const fn route(handler: &'static str, path: &'static str, actions: &'static [Action]) -> Route {
    Route { handler, path, anon: false, listed: true, actions }
}
const fn alias(handler: &'static str, path: &'static str, actions: &'static [Action]) -> Route {
    Route { handler, path, anon: false, listed: false, actions }
}

const READ: Action = r("read", "GET");
const CREATE: Action = r("create", "POST");
const UPDATE: Action = r("update", "PUT");
const DELETE: Action = r("delete", "DELETE");

const MACHINE: &[Action] = &[
    READ,
    UPDATE,
    DELETE,
    g("power_parameters"),
    g("details"),
    g("query_power_state"),
    g("get_curtin_config"),
    p("power_on"),
    p("power_off"),
    p("commission"),
    p("deploy"),
    p("release"),
    p("abort"),
    p("mark_broken"),
    p("mark_fixed"),
    p("lock"),
    p("unlock"),
    p("set_workload_annotations"),
    p("set_owner_data"),
    p("restore_networking_configuration"),
    p("restore_storage_configuration"),
    p("restore_default_configuration"),
    p("set_storage_layout"),
    p("clear_default_gateways"),
];
const INTERFACE: &[Action] =
    &[READ, UPDATE, DELETE, p("link_subnet"), p("unlink_subnet"), p("disconnect"), p("set_default_gateway"), p("add_tag"), p("remove_tag")];
const BLOCK_DEVICE: &[Action] =
    &[READ, UPDATE, DELETE, p("format"), p("unformat"), p("mount"), p("unmount"), p("set_boot_disk"), p("add_tag"), p("remove_tag")];
const PARTITION: &[Action] = &[READ, DELETE, p("format"), p("unformat"), p("mount"), p("unmount"), p("add_tag"), p("remove_tag")];
const VOLUME_GROUP: &[Action] = &[READ, UPDATE, DELETE, p("create_logical_volume"), p("delete_logical_volume")];
const RUD: &[Action] = &[READ, UPDATE, DELETE];
const RC: &[Action] = &[READ, CREATE];
const TAG: &[Action] = &[
    READ,
    UPDATE,
    DELETE,
    g("nodes"),
    g("machines"),
    g("devices"),
    g("rack_controllers"),
    g("region_controllers"),
    p("update_nodes"),
    p("rebuild"),
];
const RESULTS: &[Action] = &[READ];

/// Every handler the emulator serves, most specific first within a family.
pub(crate) const ROUTES: &[Route] = &[
    Route { handler: "VersionHandler", path: "version/", anon: true, listed: true, actions: &[READ] },
    Route { handler: "DescribeHandler", path: "describe/", anon: true, listed: false, actions: &[READ] },
    route(
        "AccountHandler",
        "account/",
        &[p("create_authorisation_token"), p("delete_authorisation_token"), g("list_authorisation_tokens")],
    ),
    route("SSHKeysHandler", "account/prefs/sshkeys/", RC),
    route("SSHKeyHandler", "account/prefs/sshkeys/{id}/", &[READ, DELETE]),
    route("UsersHandler", "users/", &[READ, g("whoami")]),
    route("UserHandler", "users/{username}/", &[READ]),
    route("MaasHandler", "maas/", &[g("get_config"), p("set_config")]),
    route(
        "MachinesHandler",
        "machines/",
        &[READ, CREATE, p("allocate"), p("release"), g("power_parameters"), p("accept"), p("accept_all")],
    ),
    route("MachineHandler", "machines/{system_id}/", MACHINE),
    route("NodesHandler", "nodes/", &[READ]),
    route(
        "InterfacesHandler",
        "nodes/{system_id}/interfaces/",
        &[READ, p("create_physical"), p("create_bond"), p("create_vlan"), p("create_bridge")],
    ),
    route("InterfaceHandler", "nodes/{system_id}/interfaces/{id}/", INTERFACE),
    route("BlockDevicesHandler", "nodes/{system_id}/blockdevices/", RC),
    route("BlockDeviceHandler", "nodes/{system_id}/blockdevices/{id}/", BLOCK_DEVICE),
    route("PartitionsHandler", "nodes/{system_id}/blockdevices/{device_id}/partitions/", RC),
    route("PartitionHandler", "nodes/{system_id}/blockdevices/{device_id}/partition/{id}", PARTITION),
    alias("PartitionHandler", "nodes/{system_id}/blockdevices/{device_id}/partitions/{id}", PARTITION),
    alias("PartitionHandler", "nodes/{system_id}/blockdevices/{device_id}/partition/{id}/", PARTITION),
    alias("PartitionHandler", "nodes/{system_id}/blockdevices/{device_id}/partitions/{id}/", PARTITION),
    route("VolumeGroupsHandler", "nodes/{system_id}/volume-groups/", RC),
    route("VolumeGroupHandler", "nodes/{system_id}/volume-group/{id}/", VOLUME_GROUP),
    alias("VolumeGroupHandler", "nodes/{system_id}/volume-groups/{id}/", VOLUME_GROUP),
    alias("NodeResultsHandler", "nodes/{system_id}/results/", RESULTS),
    route("NodeHandler", "nodes/{system_id}/", &[READ, DELETE, g("details"), g("power_parameters")]),
    route("RackControllersHandler", "rackcontrollers/", &[READ, g("power_parameters"), g("describe_power_types")]),
    route("RackControllerHandler", "rackcontrollers/{system_id}/", &[READ, UPDATE, g("power_parameters"), g("details")]),
    route("FabricsHandler", "fabrics/", RC),
    route("FabricHandler", "fabrics/{id}/", RUD),
    route("VlansHandler", "fabrics/{fabric_id}/vlans/", RC),
    route("VlanHandler", "fabrics/{fabric_id}/vlans/{vid}/", RUD),
    alias("VlanByIdHandler", "vlans/{id}/", RUD),
    route("SubnetsHandler", "subnets/", RC),
    route(
        "SubnetHandler",
        "subnets/{id}/",
        &[READ, UPDATE, DELETE, g("reserved_ip_ranges"), g("unreserved_ip_ranges"), g("statistics"), g("ip_addresses")],
    ),
    route("IPRangesHandler", "ipranges/", RC),
    route("IPRangeHandler", "ipranges/{id}/", RUD),
    route("StaticRoutesHandler", "static-routes/", RC),
    route("StaticRouteHandler", "static-routes/{id}/", RUD),
    route("SpacesHandler", "spaces/", RC),
    route("SpaceHandler", "spaces/{id}/", RUD),
    route("DomainsHandler", "domains/", RC),
    route("DomainHandler", "domains/{id}/", &[READ, UPDATE, DELETE, p("set_default")]),
    route("ZonesHandler", "zones/", RC),
    route("ZoneHandler", "zones/{name}/", RUD),
    route("ResourcePoolsHandler", "resourcepools/", RC),
    route("ResourcePoolHandler", "resourcepools/{id}/", RUD),
    route("TagsHandler", "tags/", RC),
    route("TagHandler", "tags/{name}/", TAG),
    route("BootResourcesHandler", "boot-resources/", &[READ, CREATE, p("import"), p("stop_import"), g("is_importing")]),
    route("BootResourceHandler", "boot-resources/{id}/", &[READ, DELETE]),
    route("BootSourcesHandler", "boot-sources/", RC),
    route("BootSourceHandler", "boot-sources/{id}/", RUD),
    route("BootSourceSelectionsHandler", "boot-sources/{boot_source_id}/selections/", RC),
    route("BootSourceSelectionHandler", "boot-sources/{boot_source_id}/selections/{id}/", RUD),
    route("PackageRepositoriesHandler", "package-repositories/", RC),
    route("PackageRepositoryHandler", "package-repositories/{id}/", RUD),
    route("NodeResultsHandler", "installation-results/", RESULTS),
    alias("NodeResultsHandler", "commissioning-results/", RESULTS),
];

/// Matches a path (below `/MAAS/api/2.0/`) against the table.
pub(crate) fn find(path: &str) -> Option<(&'static Route, Vec<(&'static str, String)>)> {
    let segments: Vec<&str> = path.split('/').collect();
    'routes: for route in ROUTES {
        let template: Vec<&str> = route.path.split('/').collect();
        if template.len() != segments.len() {
            continue;
        }
        let mut params = Vec::new();
        for (want, got) in template.iter().zip(&segments) {
            if let Some(name) = want.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                if got.is_empty() {
                    continue 'routes;
                }
                params.push((name, super::form::percent_decode(got, false)));
            } else if want != got {
                continue 'routes;
            }
        }
        return Some((route, params));
    }
    None
}

/// Template parameter names of a path, in order.
pub(crate) fn params_of(path: &str) -> Vec<&str> {
    path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn singular_and_plural_spellings_resolve_to_one_handler() {
        let (route, params) = find("nodes/abc123/blockdevices/7/partition/9").map(|(r, p)| (r.handler, p)).unwrap_or_default();
        assert_eq!(route, "PartitionHandler");
        assert_eq!(params, vec![("system_id", "abc123".to_owned()), ("device_id", "7".to_owned()), ("id", "9".to_owned())]);
        assert_eq!(find("nodes/abc123/blockdevices/7/partitions/9").map(|(r, _)| r.handler), Some("PartitionHandler"));
        assert_eq!(find("nodes/abc123/volume-groups/3/").map(|(r, _)| r.handler), Some("VolumeGroupHandler"));
        assert_eq!(find("nodes/abc123/volume-groups/").map(|(r, _)| r.handler), Some("VolumeGroupsHandler"));
        assert!(find("machines").is_none());
    }
}
