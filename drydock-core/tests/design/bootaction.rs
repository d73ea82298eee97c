//! Boot-action rendering against the original's expectations
//! (`test_bootaction_asset_render.py`, `test_bootaction_tarbuilder.py`) for
//! node `compute01` of `deckhand_fullsite.yaml`, and the Jinja2 behaviours
//! templates rely on.

use std::io::Read;

use drydock_core::bootaction::context::{DEFAULT_REPORT_URL, node_context};
use drydock_core::bootaction::render::node_packages;
use drydock_core::bootaction::tarball::tarball;
use drydock_core::bootaction::{ActionIdentity, IdentityKey, render_assets};
use drydock_core::ids::{BootActionId, DesignRef};
use drydock_core::ingest::EnvelopeMode;
use drydock_core::ingest::source::DefaultSource;
use drydock_core::model::AssetType;
use indexmap::IndexMap;

use crate::support::{compile_text, corpus_dir, evaluate_path};

fn identity(design_ref: &str) -> ActionIdentity {
    ActionIdentity {
        action_id: BootActionId::generate(),
        action_key: IdentityKey::generate(),
        report_url: DEFAULT_REPORT_URL.into(),
        design_ref: DesignRef(design_ref.into()),
    }
}

#[tokio::test]
async fn compute01_assets_render_like_upstream() {
    let path = corpus_dir().join("drydock-samples/deckhand_fullsite.yaml");
    let site = evaluate_path(&path, EnvelopeMode::Deckhand, None).expect("loads").site.expect("compiled");
    let node = site.node_position("compute01").expect("compute01");
    let design_ref = format!("file://{}", path.display());
    let mut identities = IndexMap::new();
    for action in &site.design.boot_actions {
        identities.insert(action.meta.name().to_owned(), identity(&design_ref));
    }
    let source = DefaultSource::default();
    let files = render_assets(&site, node, AssetType::File, &identities, &source).await.expect("files");
    let hello = files.iter().find(|asset| asset.path == "/var/tmp/hello.sh").expect("hello.sh");
    assert_eq!(hello.permissions, 0o555);
    assert!(String::from_utf8_lossy(&hello.bytes).contains("compute01"));
    let designref = files.iter().find(|asset| asset.path == "/var/tmp/designref.sh").expect("designref.sh");
    let text = String::from_utf8(designref.bytes.clone()).expect("utf8");
    let helloworld = &identities["helloworld"];
    assert!(text.contains(&design_ref), "{text}");
    assert!(text.contains(&helloworld.action_key.to_hex()));
    assert!(text.contains(&helloworld.action_id.to_string()));
    assert!(!text.ends_with("\n\n"), "one trailing newline of the template is dropped");

    let units = render_assets(&site, node, AssetType::Unit, &identities, &source).await.expect("units");
    assert!(units.iter().all(|asset| asset.asset_type == AssetType::Unit));
    assert!(units.iter().any(|asset| asset.path == "/lib/systemd/system/hello.service"));

    let archive = tarball(&files).expect("tarball");
    let mut entries = tar::Archive::new(flate2::read::GzDecoder::new(archive.as_slice()));
    let mut modes = Vec::new();
    for entry in entries.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        let mut content = Vec::new();
        entry.read_to_end(&mut content).expect("read");
        modes.push((String::from_utf8_lossy(&entry.path_bytes()).into_owned(), entry.header().mode().expect("mode")));
    }
    assert!(modes.contains(&("/var/tmp/hello.sh".to_string(), 0o555)), "{modes:?}");

    let packages = node_packages(&site, node, helloworld, &source).await.expect("packages");
    assert_eq!(packages.len(), 2);
    assert_eq!(packages.get("2ping"), Some(&Some("3.2.1-1".into())));
    assert_eq!(packages.get("0xffff"), Some(&None));

    let context = node_context(&site, &site.nodes()[node]).expect("context");
    assert_eq!(context["network"]["mgmt"]["ip"], "172.16.1.21");
    assert_eq!(context["interfaces"]["bond0"], serde_json::json!({"sriov": true, "vf_count": 2, "trustedmode": false}));
    assert_eq!(context["domain"], "mgmt.sitename.example.com");
}

#[tokio::test]
async fn templates_behave_like_jinja2() {
    let prelude = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/rules/_prelude.yaml")).expect("prelude");
    let action = r#"---
schema: drydock/BootAction/v1
metadata: {name: templated}
data:
  assets:
    - type: file
      path: /etc/labels
      permissions: '0644'
      data: "{% for k, v in node.labels.items() %}{{ k }}={{ v }};{% endfor %}[{{ node.missing }}][{{ 'a b&c/d' | urlencode }}]{{ node.network.default.ip }}\n"
      data_pipeline: [utf8_decode, template]
---
schema: drydock/BaremetalNode/v1
metadata: {name: n9}
data:
  host_profile: base
  metadata: {owner_data: {rack: r1, role: worker}}
  addressing: [{network: mgmt, address: 10.1.0.99}]
"#;
    let site = compile_text(&format!("{prelude}{action}"));
    let node = site.node_position("n9").expect("n9");
    let mut identities = IndexMap::new();
    identities.insert("templated".to_string(), identity("file:///site.yaml"));
    let files = render_assets(&site, node, AssetType::File, &identities, &DefaultSource::default()).await.expect("files");
    assert_eq!(files.len(), 1, "only the action with an identity renders");
    assert_eq!(String::from_utf8_lossy(&files[0].bytes), "rack=r1;role=worker;[][a%20b%26c/d]10.1.0.99");
    assert_eq!(files[0].permissions, 0o644);
}
