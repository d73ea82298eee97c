//! Rendering the three treasuremap v1.9 sites from their repository
//! (`shared/corpus/treasuremap-v1.9/{global,site}`) reproduces what
//! Deckhand rendered (`rendered/<site>.drydock.yaml`) document by document,
//! and each rendered site validates and compiles as the Deckhand output
//! does (compat: site-design spec §8.4, item 5).

use std::collections::BTreeMap;

use drydock_core::ingest::repo::{SiteRef, read_site};
use drydock_core::ingest::source::ReferencePolicy;
use drydock_core::ingest::yaml::{YamlLimits, parse_stream};
use drydock_core::ingest::{EnvelopeMode, Ingester};
use drydock_core::render::emit::{EmitOptions, to_json, yaml_stream};
use drydock_core::render::site::render_site;
use drydock_core::render::{RenderLimits, Rendered};
use drydock_core::validate::{ValidationOptions, evaluate};

use crate::support::{corpus_dir, summarize};

const SITES: [&str; 3] = ["seaworthy", "airsloop", "seaworthy-virt"];

fn render(site: &str) -> Rendered {
    let root = corpus_dir().join("treasuremap-v1.9");
    let files = read_site(&root, site, &SiteRef::reference(&root, site), &ReferencePolicy::default(), 64 << 20).expect("site reads");
    render_site(&files, &YamlLimits::default(), &RenderLimits::default()).unwrap_or_else(|error| panic!("{site}: {error}"))
}

/// `(schema, name)` → the document's data as JSON (map comparison ignores
/// key order; types are kept).
fn by_identity<'v>(
    documents: impl Iterator<Item = (&'v str, &'v str, serde_json::Value)>,
) -> BTreeMap<(String, String), serde_json::Value> {
    documents.map(|(schema, name, data)| ((schema.to_owned(), name.to_owned()), data)).collect()
}

#[test]
fn every_site_renders_as_deckhand_rendered_it() {
    for site in SITES {
        let rendered = render(site);
        assert!(rendered.notes.is_empty(), "{site}: {:?}", rendered.notes);
        let ours = by_identity(
            rendered
                .documents
                .iter()
                .filter(|document| document.id.schema.starts_with("drydock/"))
                .map(|document| (document.id.schema.as_str(), document.id.name.as_str(), to_json(document.data()))),
        );
        let path = corpus_dir().join(format!("treasuremap-v1.9/rendered/{site}.drydock.yaml"));
        let text = std::fs::read_to_string(&path).expect("expected output");
        let expected_documents = parse_stream(&text, &YamlLimits::default()).expect("yaml");
        let expected = by_identity(expected_documents.iter().filter(|document| !document.value.is_null()).map(|document| {
            let map = document.value.as_map().expect("a document");
            let schema = map.get("schema").and_then(|value| value.as_str()).expect("schema");
            let name = map
                .get("metadata")
                .and_then(|value| value.as_map())
                .and_then(|metadata| metadata.get("name"))
                .and_then(|value| value.as_str())
                .expect("name");
            (schema, name, to_json(map.get("data").expect("data")))
        }));
        let ours_keys: Vec<_> = ours.keys().collect();
        let expected_keys: Vec<_> = expected.keys().collect();
        assert_eq!(ours_keys, expected_keys, "{site}: the same documents");
        for (key, data) in &expected {
            assert_eq!(&ours[key], data, "{site}: {key:?} renders as Deckhand rendered it");
        }
    }
}

#[test]
fn every_rendered_site_validates_and_compiles_like_deckhands_output() {
    for (site, counts) in
        [("seaworthy", [1, 3, 6, 2, 3, 5, 6]), ("airsloop", [1, 3, 6, 2, 1, 1, 6]), ("seaworthy-virt", [1, 1, 7, 2, 3, 3, 5])]
    {
        let rendered = render(site);
        let ingester = Ingester { envelope: EnvelopeMode::Deckhand, ..Ingester::default() };
        let ingested = rendered.ingest(&ingester, Some(site)).expect("ingests");
        let evaluation = evaluate(ingested, &ValidationOptions::default());
        let summary = summarize(&evaluation.report);
        assert_eq!(summary.status, "Success", "{site}: {summary:?}");
        assert_eq!(summary.messages, 19, "{site}");
        let design = &evaluation.site.as_ref().expect("compiled").design;
        let found = crate::support::counts_by_kind(design);
        assert_eq!(found, counts, "{site}: documents by kind");
    }
}

#[test]
fn rendered_documents_cite_the_file_of_the_layer_that_wrote_them() {
    let rendered = render("seaworthy");
    let profile = rendered.documents.iter().find(|document| document.id.name == "cp_r720-primary").expect("profile");
    assert!(profile.id.at().ends_with("site/seaworthy/profiles/host/cp_r720.yaml:1"), "{}", profile.id.at());
    let parent = profile.parent.as_ref().expect("layered");
    assert!(parent.at().ends_with("global/profiles/host/cp.yaml:1"), "{}", parent.at());
    // Maps keep the line of the layer that wrote them: `oob` comes from the
    // global profile, `interfaces` from the site's.
    let data = profile.data().as_map().expect("data");
    let line_of = |key: &str| data.get(key).and_then(|value| value.line()).and_then(|line| rendered.locate(line)).map(|at| at.to_string());
    assert!(line_of("oob").is_some_and(|at| at.ends_with("global/profiles/host/cp.yaml:21")), "{:?}", line_of("oob"));
    assert!(
        line_of("interfaces").is_some_and(|at| at.ends_with("site/seaworthy/profiles/host/cp_r720.yaml:28")),
        "{:?}",
        line_of("interfaces")
    );
}

#[test]
fn the_printed_site_parses_back_to_the_rendered_documents() {
    for site in SITES {
        let rendered = render(site);
        let text = yaml_stream(&rendered.documents, EmitOptions { provenance: true });
        let back = parse_stream(&text, &YamlLimits::default()).unwrap_or_else(|error| panic!("{site}: {error}"));
        assert_eq!(back.len(), rendered.documents.len());
        for (document, parsed) in rendered.documents.iter().zip(&back) {
            assert_eq!(to_json(&parsed.value), to_json(&document.masked()), "{site}: {}", document.id);
        }
    }
}
