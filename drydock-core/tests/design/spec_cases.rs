//! The original's unit-test expectations on the corpus designs (spec §3-§5,
//! §7): ingestion counts, repositories, racks, node filters, kernel-parameter
//! references, FQDNs, boot-action scoping, inheritance and route domains.

use drydock_core::compile::hardware::kernel_command_line;
use drydock_core::ingest::map::node_filter_from_value;
use drydock_core::ingest::value::Value;
use drydock_core::ingest::yaml::{YamlLimits, parse_stream};
use drydock_core::ingest::{EnvelopeMode, Ingester};

use crate::support::{corpus_dir, evaluate_path, summarize};

fn sample(name: &str, mode: EnvelopeMode) -> drydock_core::validate::Evaluation {
    evaluate_path(&corpus_dir().join("drydock-samples").join(name), mode, None).expect("loads")
}

fn fullsite() -> std::sync::Arc<drydock_core::compile::EffectiveSite> {
    sample("deckhand_fullsite.yaml", EnvelopeMode::Deckhand).site.expect("compiled")
}

fn filter(yaml: &str) -> drydock_core::model::NodeFilter {
    let value: Value = parse_stream(yaml, &YamlLimits::default()).expect("yaml").remove(0).value;
    node_filter_from_value(&value, false).expect("filter")
}

#[test]
fn deckhand_fullsite_ingests_like_upstream() {
    let path = corpus_dir().join("drydock-samples/deckhand_fullsite.yaml");
    let ingested = Ingester::new().ingest_bytes(&std::fs::read(path).expect("read"), None).expect("parses");
    assert!(ingested.is_success());
    let design = &ingested.design;
    assert_eq!(design.host_profiles.len(), 2);
    assert_eq!(design.baremetal_nodes.len(), 3);
    for profile in &design.host_profiles {
        assert_eq!(profile.meta.doc_ref.schema, "drydock/HostProfile/v1");
        assert!(!profile.meta.doc_ref.name.is_empty());
    }
    let repositories = design.region().and_then(|region| region.repositories.as_ref()).expect("repositories");
    assert_eq!(repositories.repositories.len(), 1);
    assert!(repositories.remove_unlisted);
    assert!(repositories.repositories[0].url.as_deref().is_some_and(|url| url.contains("docker")));
    assert_eq!(design.rack("rack1").and_then(|rack| rack.location.get("grid")).map(String::as_str), Some("EG12"));
    assert!(design.rack("foo").is_none());
}

#[test]
fn node_filters_select_like_upstream() {
    let site = fullsite();
    let names = |yaml: &str| -> Vec<String> {
        site.select(Some(&filter(yaml))).expect("evaluates").into_iter().map(|i| site.nodes()[i].name().to_owned()).collect()
    };
    assert_eq!(names("{filter_set_type: union, filter_set: [{filter_type: union, node_names: [compute01]}]}"), ["compute01"]);
    assert_eq!(names("{filter_set_type: union, filter_set: [{filter_type: union, rack_names: [rack2, rack3]}]}").len(), 2);
    assert_eq!(names("{filter_set_type: union, filter_set: [{filter_type: union, node_tags: [test]}]}").len(), 3);
    assert_eq!(names("{filter_set_type: union, filter_set: [{filter_type: union, node_labels: {foo: baz}}]}"), ["compute02"]);
    let no_nodes = sample("deckhand_fullsite_no_nodes.yaml", EnvelopeMode::Deckhand).site.expect("compiled");
    assert!(no_nodes.select(None).expect("evaluates").is_empty());
}

#[test]
fn kernel_parameter_references_resolve() {
    let site = fullsite();
    let params = &site.node("compute01").expect("compute01").config.kernel_params;
    assert_eq!(params.get("isolcpus").map(String::as_str), Some("2,4"));
    assert_eq!(params.get("hugepagesz").map(String::as_str), Some("1G"));
    assert_eq!(params.get("hugepages").map(String::as_str), Some("300"));
    assert!(kernel_command_line(params).expect("renders").starts_with("hugepagesz=1G hugepages=300"));
}

#[test]
fn node_domain_and_fqdn() {
    let site = fullsite();
    let node = site.node("controller01").expect("controller01");
    assert_eq!(site.node_domain(node), "mgmt.sitename.example.com");
    assert_eq!(site.node_fqdn(node), "controller01.mgmt.sitename.example.com");
}

#[test]
fn boot_action_scoping_and_inherited_interfaces() {
    let site = fullsite();
    let targets = |action: &str| -> Vec<String> {
        let position = site.design.boot_actions.iter().position(|a| a.meta.name() == action).expect("action");
        site.boot_action_targets[position].iter().map(|&i| site.nodes()[i].name().to_owned()).collect()
    };
    let hello = targets("helloworld");
    assert!(hello.contains(&"compute01".into()) && hello.contains(&"controller01".into()));
    let filtered = targets("hw_filtered");
    assert!(filtered.contains(&"compute01".into()) && !filtered.contains(&"controller01".into()));
    let controller = site.node("controller01").expect("controller01");
    assert_eq!(controller.config.interface("bond0").expect("bond0").networks, ["mgmt"]);
    let compute = site.node("compute01").expect("compute01");
    let bond = compute.config.interface("bond0").expect("bond0");
    assert_eq!((bond.sriov, bond.vf_count, bond.trustedmode), (true, Some(2), Some(false)));
}

#[test]
fn legacy_inheritance_matches_upstream() {
    let evaluation = sample("fullsite.yaml", EnvelopeMode::Legacy);
    let site = evaluation.site.expect("compiled");
    assert_eq!(site.nodes().len(), 2);
    let controller = site.node("controller01").expect("controller01");
    assert_eq!(controller.config.hardware_profile.as_deref(), Some("HPGen9v3"));
    assert_eq!(controller.config.interface("bond0").expect("bond0").hardware_slaves.len(), 2);
    assert_eq!(controller.config.interface("pxe").expect("pxe").hardware_slaves.len(), 1);
}

#[test]
fn route_domains_render() {
    let evaluation = sample("deckhand_routedomain.yaml", EnvelopeMode::Deckhand);
    assert_eq!(summarize(&evaluation.report).status, "Success");
    let site = evaluation.site.expect("compiled");
    let network = site.design.network("storage_rack3").expect("storage_rack3");
    let routes: Vec<_> = network.effective_routes().collect();
    assert_eq!(routes.len(), 3);
    let subnets: Vec<&str> = routes.iter().filter_map(|route| route.subnet.as_deref()).collect();
    assert_eq!(subnets, ["172.16.1.0/24", "172.16.2.0/24"]);
    assert!(routes.iter().filter(|route| route.subnet.is_some()).all(|route| route.gateway.as_deref() == Some("172.16.3.1")));
    assert_eq!(network.effective_route_count(), 3);
}

#[test]
fn boot_action_ingestion_quirks() {
    let path = corpus_dir().join("drydock-samples/deckhand_bootaction.yaml");
    let ingested = Ingester::new().ingest_bytes(&std::fs::read(path).expect("read"), None).expect("parses");
    assert_eq!(ingested.design.boot_action("helloworld").expect("helloworld").assets.len(), 3);
    let errors: Vec<_> = ingested.findings.iter().filter(|f| f.is_error()).collect();
    assert_eq!(errors.len(), 1);
    assert!(errors[0].message.contains("Keys and values must be strings."), "{}", errors[0].message);

    let invalid = sample("invalid_bootaction.yaml", EnvelopeMode::Deckhand);
    let errors: Vec<_> = invalid.report.findings().filter(|f| f.is_error()).collect();
    assert_eq!(errors.len(), 3);
    assert_eq!(errors.iter().filter(|f| f.documents.iter().any(|d| d.name == "invalid_pkg_list")).count(), 1);
}

#[test]
fn rendered_route_domain_routes_are_checked_once_each() {
    let network = |name: &str, cidr: &str, gateway: &str| {
        format!(
            "---\nschema: drydock/Network/v1\nmetadata: {{name: {name}}}\ndata:\n  cidr: {cidr}\n  routedomain: rd\n  routes: [{{routedomain: rd, gateway: {gateway}, metric: 10}}]\n"
        )
    };
    let text = [network("a", "10.0.1.0/24", "10.0.1.1"), network("b", "10.0.2.0/24", "10.9.9.9"), network("c", "10.0.3.0/24", "10.0.3.1")]
        .concat();
    let evaluation = crate::support::evaluate_bytes(text.as_bytes(), "rd.yaml", EnvelopeMode::Deckhand, None).expect("loads");
    let gateway_errors: Vec<_> = evaluation
        .report
        .findings()
        .filter(|f| f.message.contains("The gateway IP Address 10.9.9.9 is not within the defined CIDR: 10.0.2.0/24 of b."))
        .collect();
    // b's own route-domain route plus its two rendered routes (to a and c).
    assert_eq!(gateway_errors.len(), 3);
    let site = evaluation.site.expect("compiled");
    assert_eq!(site.design.network("b").expect("b").effective_route_count(), 3);
}
