//! The renderer on small documents of our own, one behaviour or error case
//! each: parent selection, the three actions, abstract and control
//! documents, every substitution form, replacement, secrets, ordering,
//! cycles and the budget (compat: site-design spec §8.3; Deckhand's
//! layering, substitution and replacement documentation).

use super::*;
use crate::ingest::yaml::{StreamBudget, YamlLimits, parse_stream_at};

const POLICY: &str = "schema: deckhand/LayeringPolicy/v1
metadata: {schema: metadata/Control/v1, name: layering-policy}
data: {layerOrder: [global, type, site]}
";

/// A normal document: `extra` is more `metadata` (YAML flow entries).
fn doc(schema: &str, name: &str, layer: &str, extra: &str, data: &str) -> String {
    let extra = if extra.is_empty() { String::new() } else { format!(", {extra}") };
    format!(
        "schema: {schema}\nmetadata: {{schema: metadata/Document/v1, name: {name}, storagePolicy: cleartext, layeringDefinition: {{layer: {layer}{}}}{}}}\ndata: {data}\n",
        layering_part(&extra),
        metadata_part(&extra)
    )
}

// `extra` may hold layeringDefinition parts (abstract, parentSelector,
// actions) and metadata parts (labels, substitutions, replacement): split
// them by key.
fn layering_part(extra: &str) -> String {
    split_extra(extra).0
}

fn metadata_part(extra: &str) -> String {
    split_extra(extra).1
}

fn split_extra(extra: &str) -> (String, String) {
    let mut layering = String::new();
    let mut metadata = String::new();
    for part in top_level_parts(extra.trim_start_matches(", ")) {
        let target =
            if ["abstract", "parentSelector", "actions"].iter().any(|key| part.starts_with(key)) { &mut layering } else { &mut metadata };
        target.push_str(", ");
        target.push_str(&part);
    }
    (layering, metadata)
}

/// Split flow entries at top-level commas.
fn top_level_parts(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut current = String::new();
    for character in text.chars() {
        match character {
            '{' | '[' => depth += 1,
            '}' | ']' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(current.trim().to_owned());
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(character);
    }
    if !current.trim().is_empty() {
        parts.push(current.trim().to_owned());
    }
    parts
}

/// Render a stream (one file, `site.yaml`).
fn run(documents: &[String]) -> Result<Rendered, RenderError> {
    let text = documents.iter().map(|document| format!("---\n{document}")).collect::<String>();
    let mut lines = LineMap::new();
    let offset = lines.add("site.yaml".into(), &text).expect("room");
    let limits = YamlLimits::default();
    let parsed = parse_stream_at(&text, offset, &StreamBudget::new(&limits)).expect("yaml");
    render(parsed, lines, &RenderLimits::default())
}

fn with_policy(documents: &[String]) -> Vec<String> {
    let mut all = vec![POLICY.to_owned()];
    all.extend_from_slice(documents);
    all
}

/// The rendered data of `name`, as Python would print it.
fn data_of(rendered: &Rendered, name: &str) -> String {
    rendered
        .documents
        .iter()
        .find(|document| document.id.name == name)
        .map(|document| document.data().py_repr())
        .unwrap_or_else(|| "absent".into())
}

fn names(rendered: &Rendered) -> Vec<String> {
    rendered.documents.iter().map(|document| document.id.name.clone()).collect()
}

fn error(documents: &[String]) -> String {
    run(&with_policy(documents)).expect_err("an error").to_string()
}

// ---------------------------------------------------------------- layering

/// Deckhand's parent-selection example (layering.rst): the nearest layer
/// with a match is the parent; without it the next one is.
#[test]
fn the_nearest_layer_with_a_match_is_the_parent() {
    let global = doc("example/Kind/v1", "global-1234", "global", "abstract: true, labels: {key1: value1}", "{a: {x: 1, y: 2}}");
    let region = doc(
        "example/Kind/v1",
        "region-1234",
        "type",
        "abstract: true, labels: {key1: value1}, parentSelector: {key1: value1}, actions: [{method: replace, path: .a}]",
        "{a: {z: 3}}",
    );
    let site = doc("example/Kind/v1", "site-1234", "site", "parentSelector: {key1: value1}, actions: [{method: merge, path: .}]", "{b: 4}");
    let rendered = run(&with_policy(&[global.clone(), region, site.clone()])).expect("renders");
    assert_eq!(data_of(&rendered, "site-1234"), "{'a': {'z': 3}, 'b': 4}");
    assert_eq!(names(&rendered), ["layering-policy", "site-1234"], "abstract documents are not output");
    let parent = rendered.documents[1].parent.as_ref().expect("a parent");
    assert_eq!(parent.to_string(), "[example/Kind/v1, type] region-1234");

    let rendered = run(&with_policy(&[global, site])).expect("renders");
    assert_eq!(data_of(&rendered, "site-1234"), "{'a': {'x': 1, 'y': 2}, 'b': 4}");
}

#[test]
fn actions_apply_in_order_to_the_parents_rendered_data() {
    let parent = doc("k/Kind/v1", "p", "global", "labels: {role: base}", "{a: {x: 1, y: 2}, c: 9, l: [1, 2]}");
    let child = doc(
        "k/Kind/v1",
        "c",
        "site",
        "parentSelector: {role: base}, actions: [{method: merge, path: .}, {method: replace, path: .l}, {method: delete, path: .c}]",
        "{a: {x: 7, z: 3}, l: [9], b: 4}",
    );
    let rendered = run(&with_policy(&[parent, child])).expect("renders");
    assert_eq!(data_of(&rendered, "c"), "{'a': {'x': 7, 'y': 2, 'z': 3}, 'l': [9], 'b': 4}");
    assert_eq!(data_of(&rendered, "p"), "{'a': {'x': 1, 'y': 2}, 'c': 9, 'l': [1, 2]}", "a concrete parent is output unchanged");
}

#[test]
fn a_selector_may_need_several_labels_and_values_compare_like_python() {
    let one = doc("k/Kind/v1", "one", "global", "labels: {a: x, n: 1}", "{v: one}");
    let two = doc("k/Kind/v1", "two", "global", "labels: {a: x, n: 2}", "{v: two}");
    let child = doc("k/Kind/v1", "c", "site", "parentSelector: {a: x, n: 2.0}, actions: [{method: merge, path: .}]", "{w: 1}");
    let rendered = run(&with_policy(&[one, two, child])).expect("renders");
    assert_eq!(data_of(&rendered, "c"), "{'v': 'two', 'w': 1}");
}

#[test]
fn a_selector_that_matches_nothing_leaves_the_own_data_and_a_note() {
    let child = doc("k/Kind/v1", "c", "site", "parentSelector: {role: none}, actions: [{method: merge, path: .}]", "{w: 1}");
    let rendered = run(&with_policy(&[child])).expect("renders");
    assert_eq!(data_of(&rendered, "c"), "{'w': 1}");
    assert_eq!(rendered.notes.len(), 1);
    let note = rendered.notes[0].to_string();
    assert!(note.starts_with("site.yaml:5: [k/Kind/v1, site] c: its parentSelector {role: none} matches no document"), "{note}");
}

#[test]
fn a_document_never_selects_itself() {
    let child =
        doc("k/Kind/v1", "c", "site", "labels: {self: self}, parentSelector: {self: self}, actions: [{method: merge, path: .}]", "{w: 1}");
    let rendered = run(&with_policy(&[child])).expect("renders");
    assert_eq!(data_of(&rendered, "c"), "{'w': 1}");
    assert_eq!(rendered.notes.len(), 1);
}

#[test]
fn a_match_of_another_schema_or_an_equal_or_lower_layer_is_an_invalid_parent() {
    let other = doc("k/Other/v1", "o", "global", "labels: {role: base}", "{}");
    let child = doc("k/Kind/v1", "c", "site", "parentSelector: {role: base}, actions: [{method: merge, path: .}]", "{}");
    let message = error(&[other, child.clone()]);
    assert!(
        message.starts_with(
            "site.yaml:9: [k/Kind/v1, site] c: its parentSelector matches [k/Other/v1, global] o (site.yaml:5), which has schema k/Other/v1"
        ),
        "{message}"
    );

    let sibling = doc("k/Kind/v1", "s", "site", "labels: {role: base}", "{}");
    let message = error(&[sibling, child.clone()]);
    assert!(
        message.contains("which is in layer site, not in a layer more general than site (layerOrder: global, type, site)"),
        "{message}"
    );

    let typed = doc("k/Kind/v1", "t", "type", "parentSelector: {role: base}, actions: [{method: merge, path: .}]", "{}");
    let lower = doc("k/Kind/v1", "l", "site", "labels: {role: base}", "{}");
    let message = error(&[typed, lower]);
    assert!(message.contains("[k/Kind/v1, type] t: its parentSelector matches [k/Kind/v1, site] l"), "{message}");
}

#[test]
fn two_matches_in_one_layer_are_an_indeterminate_parent() {
    let first = doc("k/Kind/v1", "g1", "global", "labels: {role: base}", "{}");
    let second = doc("k/Kind/v1", "g2", "global", "labels: {role: base, more: yes}", "{}");
    let child = doc("k/Kind/v1", "c", "site", "parentSelector: {role: base}, actions: [{method: merge, path: .}]", "{}");
    let message = error(&[first.clone(), second.clone(), child.clone()]);
    assert!(message.contains("c: its parentSelector matches 2 documents in layer global"), "{message}");
    assert!(message.contains("[k/Kind/v1, global] g1 (site.yaml:5), [k/Kind/v1, global] g2 (site.yaml:9)"), "{message}");
    // Deckhand counts ambiguity in any layer, even with a nearer match.
    let nearer = doc("k/Kind/v1", "t", "type", "labels: {role: base}", "{}");
    let message = error(&[first, second, nearer, child]);
    assert!(message.contains("matches 2 documents in layer global"), "{message}");
}

#[test]
fn a_missing_action_path_is_an_error_naming_both_documents() {
    let parent = doc("k/Kind/v1", "p", "global", "labels: {role: base}", "{a: 1}");
    let child = doc("k/Kind/v1", "c", "site", "parentSelector: {role: base}, actions: [{method: merge, path: .b}]", "{a: 2}");
    let message = error(&[parent.clone(), child]);
    assert_eq!(
        message,
        "site.yaml:9: [k/Kind/v1, site] c: layering action merge .b (parent [k/Kind/v1, global] p (site.yaml:5)): this document's data has nothing at .b to merge"
    );
    let deleting = doc("k/Kind/v1", "c", "site", "parentSelector: {role: base}, actions: [{method: delete, path: .b}]", "{b: 2}");
    assert!(error(&[parent, deleting]).contains("the parent's rendered data has nothing at .b to delete"));
}

#[test]
fn control_documents_and_layers_are_checked() {
    assert_eq!(
        run(&[doc("k/Kind/v1", "c", "site", "", "{}")]).expect_err("no policy").to_string().split(':').next(),
        Some("no deckhand/LayeringPolicy/v1 document")
    );
    let message = error(&[doc("k/Kind/v1", "c", "region", "", "{}")]);
    assert!(
        message.starts_with("site.yaml:5: [k/Kind/v1, region] c: layer \"region\" is not in the layerOrder [global, type, site] of"),
        "{message}"
    );
    let duplicate = doc("k/Kind/v1", "c", "site", "", "{}");
    let message = error(&[duplicate.clone(), duplicate]);
    assert!(message.contains("another document has the same schema, layer and name: [k/Kind/v1, site] c (site.yaml:5)"), "{message}");
    let mut two_policies = with_policy(&[POLICY.replace("layering-policy", "second")]);
    two_policies.push(doc("k/Kind/v1", "c", "site", "", "{}"));
    let rendered = run(&two_policies).expect("renders");
    assert!(rendered.notes[0].message.contains("a second layering policy"), "{:?}", rendered.notes);
    assert_eq!(names(&rendered), ["layering-policy", "second", "c"], "control documents are output as written");
}

// ------------------------------------------------------------ substitution

fn passphrase(name: &str, layer: &str, value: &str) -> String {
    doc("deckhand/Passphrase/v1", name, layer, "", value)
}

fn substituting(name: &str, substitutions: &str, data: &str) -> String {
    doc("k/Kind/v1", name, "site", &format!("substitutions: {substitutions}"), data)
}

#[test]
fn a_secret_is_substituted_whole_and_a_path_reads_into_a_map() {
    let secret = passphrase("pw", "site", "hunter22");
    let versions = doc("pegleg/SoftwareVersions/v1", "versions", "global", "", "{packages: {repo: {url: 'http://x'}}}");
    let chart = substituting(
        "chart",
        "[{src: {schema: deckhand/Passphrase/v1, name: pw, path: .}, dest: {path: .auth.password}},
          {src: {schema: pegleg/SoftwareVersions/v1, name: versions, path: .packages.repo}, dest: {path: .repo}},
          {src: {schema: pegleg/SoftwareVersions/v1, name: versions, path: .}, dest: {path: .all}}]",
        "{auth: {user: admin}}",
    );
    let rendered = run(&with_policy(&[chart, secret, versions])).expect("renders");
    assert_eq!(
        data_of(&rendered, "chart"),
        "{'auth': {'user': 'admin', 'password': 'hunter22'}, 'repo': {'url': 'http://x'}, 'all': {'packages': {'repo': {'url': 'http://x'}}}}"
    );
}

#[test]
fn list_positions_are_created_and_several_destinations_written() {
    let key = doc("deckhand/PublicKey/v1", "key", "site", "", "ssh-rsa AAA");
    let region = substituting(
        "region",
        "[{src: {schema: deckhand/PublicKey/v1, name: key, path: .}, dest: [{path: '.authorized_keys[0]'}, {path: .copy.of.key}, {path: '.list[2]'}]}]",
        "{authorized_keys: []}",
    );
    let rendered = run(&with_policy(&[key, region])).expect("renders");
    assert_eq!(
        data_of(&rendered, "region"),
        "{'authorized_keys': ['ssh-rsa AAA'], 'copy': {'of': {'key': 'ssh-rsa AAA'}}, 'list': [{}, {}, 'ssh-rsa AAA']}"
    );
}

#[test]
fn patterns_replace_text_in_place_and_recursively() {
    let secret = passphrase("pw", "site", "s3cret");
    let chart = substituting(
        "chart",
        "[{src: {schema: deckhand/Passphrase/v1, name: pw, path: .}, dest: {path: .url, pattern: 'INSERT_[A-Z]+_HERE'}},
          {src: {schema: deckhand/Passphrase/v1, name: pw, path: .}, dest: {path: .values, pattern: 'INSERT_[A-Z]+_HERE', recurse: {depth: -1}}}]",
        "{url: 'http://admin:INSERT_PASSWORD_HERE@svc/v1', values: {a: 'x:INSERT_PASSWORD_HERE', b: {c: INSERT_PASSWORD_HERE, d: [INSERT_PASSWORD_HERE]}}}",
    );
    let rendered = run(&with_policy(&[secret.clone(), chart])).expect("renders");
    assert_eq!(
        data_of(&rendered, "chart"),
        "{'url': 'http://admin:s3cret@svc/v1', 'values': {'a': 'x:s3cret', 'b': {'c': 's3cret', 'd': ['s3cret']}}}"
    );

    let shallow = substituting(
        "chart",
        "[{src: {schema: deckhand/Passphrase/v1, name: pw, path: .}, dest: {path: .values, pattern: HERE, recurse: {depth: 1}}}]",
        "{values: {a: HERE, b: {c: HERE}}}",
    );
    let rendered = run(&with_policy(&[secret.clone(), shallow])).expect("renders");
    assert_eq!(data_of(&rendered, "chart"), "{'values': {'a': 's3cret', 'b': {'c': 'HERE'}}}");

    let unmatched = substituting(
        "chart",
        "[{src: {schema: deckhand/Passphrase/v1, name: pw, path: .}, dest: {path: .url, pattern: NOPE}}]",
        "{url: plain}",
    );
    let rendered = run(&with_policy(&[secret.clone(), unmatched])).expect("renders");
    assert_eq!(data_of(&rendered, "chart"), "{'url': 'plain'}");
    assert!(rendered.notes[0].message.contains("dest.pattern NOPE matches nothing at .url"), "{:?}", rendered.notes);

    let not_a_string = substituting(
        "chart",
        "[{src: {schema: deckhand/Passphrase/v1, name: pw, path: .}, dest: {path: .port, pattern: X}}]",
        "{port: 80}",
    );
    let message = error(&[secret, not_a_string]);
    assert!(
        message.contains(
            "substitution 0 (from [deckhand/Passphrase/v1, site] pw (site.yaml:5)): dest .port: the destination holds a int at .port"
        ),
        "{message}"
    );
}

#[test]
fn a_source_pattern_extracts_a_group() {
    let versions = doc("pegleg/SoftwareVersions/v1", "versions", "global", "", "{images: {hello: 'docker.io/library/hello-world:latest'}}");
    let src =
        |group: &str| format!("{{schema: pegleg/SoftwareVersions/v1, name: versions, path: .images.hello, pattern: '^(.*):(.*)'{group}}}");
    let chart = substituting(
        "chart",
        &format!(
            "[{{src: {}, dest: {{path: .repo}}}}, {{src: {}, dest: {{path: .tag}}}}, {{src: {}, dest: {{path: .whole}}}}]",
            src(", match_group: 1"),
            src(", match_group: 2"),
            src("")
        ),
        "{repo: null, tag: null}",
    );
    let rendered = run(&with_policy(&[versions.clone(), chart])).expect("renders");
    assert_eq!(
        data_of(&rendered, "chart"),
        "{'repo': 'docker.io/library/hello-world', 'tag': 'latest', 'whole': 'docker.io/library/hello-world:latest'}"
    );

    let unmatched = substituting(
        "chart",
        "[{src: {schema: pegleg/SoftwareVersions/v1, name: versions, path: .images.hello, pattern: '^nope$'}, dest: {path: .v}}]",
        "{}",
    );
    let rendered = run(&with_policy(&[versions.clone(), unmatched])).expect("renders");
    assert_eq!(data_of(&rendered, "chart"), "{'v': 'docker.io/library/hello-world:latest'}", "no match: the whole value, as Deckhand");
    assert!(rendered.notes[0].message.contains("src.pattern ^nope$ matches nothing"), "{:?}", rendered.notes);

    let no_group = substituting("chart", &format!("[{{src: {}, dest: {{path: .v}}}}]", src(", match_group: 3")), "{}");
    assert!(error(&[versions.clone(), no_group]).contains("src.pattern ^(.*):(.*) has no group 3"));
    let not_a_string = substituting(
        "chart",
        "[{src: {schema: pegleg/SoftwareVersions/v1, name: versions, path: .images, pattern: x}, dest: {path: .v}}]",
        "{}",
    );
    assert!(error(&[versions, not_a_string]).contains("src.pattern applies to a string, but the source holds a dict at .images"));
}

#[test]
fn missing_sources_and_source_data_are_errors_naming_the_documents() {
    let chart = substituting("chart", "[{src: {schema: deckhand/Passphrase/v1, name: nowhere, path: .}, dest: {path: .pw}}]", "{}");
    assert_eq!(
        error(std::slice::from_ref(&chart)),
        "site.yaml:5: [k/Kind/v1, site] chart: substitution 0 takes data from [deckhand/Passphrase/v1] nowhere, but no concrete document has that schema and name"
    );
    // An abstract document is no substitution source.
    let abstract_source = doc("deckhand/Passphrase/v1", "nowhere", "global", "abstract: true", "x");
    assert!(error(&[abstract_source, chart]).contains("no concrete document has that schema and name"));

    let versions = doc("pegleg/SoftwareVersions/v1", "versions", "global", "", "{a: 1}");
    let chart = substituting("chart", "[{src: {schema: pegleg/SoftwareVersions/v1, name: versions, path: .b.c}, dest: {path: .v}}]", "{}");
    assert_eq!(
        error(&[versions, chart]),
        "site.yaml:9: [k/Kind/v1, site] chart: substitution 0: [pegleg/SoftwareVersions/v1, global] versions (site.yaml:5) has no data at .b.c"
    );
}

#[test]
fn sources_render_first_whatever_the_input_order() {
    let first = substituting("first", "[{src: {schema: k/Kind/v1, name: second, path: .v}, dest: {path: .v}}]", "{}");
    let second = substituting("second", "[{src: {schema: k/Kind/v1, name: third, path: .v}, dest: {path: .v}}]", "{}");
    let third = doc("k/Kind/v1", "third", "site", "", "{v: deep}");
    let rendered = run(&with_policy(&[first, second, third])).expect("renders");
    assert_eq!(data_of(&rendered, "first"), "{'v': 'deep'}");
    assert_eq!(names(&rendered), ["layering-policy", "first", "second", "third"], "output keeps the input order");
}

#[test]
fn cycles_are_errors_naming_every_document_in_them() {
    let a = substituting("a", "[{src: {schema: k/Kind/v1, name: b, path: .v}, dest: {path: .v}}]", "{v: a}");
    let b = substituting("b", "[{src: {schema: k/Kind/v1, name: a, path: .v}, dest: {path: .v}}]", "{v: b}");
    let message = error(&[a, b]);
    assert!(
        message.starts_with("documents depend on each other in a cycle (each layers on or substitutes from the next): [k/Kind/v1, site] a (site.yaml:5) -> [k/Kind/v1, site] b (site.yaml:9) -> [k/Kind/v1, site] a"),
        "{message}"
    );
    let own = substituting("own", "[{src: {schema: k/Kind/v1, name: own, path: .v}, dest: {path: .w}}]", "{v: 1}");
    let message = error(&[own]);
    assert!(message.contains("[k/Kind/v1, site] own (site.yaml:5) -> [k/Kind/v1, site] own"), "{message}");
    // Through layering: a parent substituting from its own child.
    let parent = doc(
        "k/Kind/v1",
        "p",
        "global",
        "labels: {role: p}, substitutions: [{src: {schema: k/Kind/v1, name: c, path: .v}, dest: {path: .v}}]",
        "{}",
    );
    let child = doc("k/Kind/v1", "c", "site", "parentSelector: {role: p}, actions: [{method: merge, path: .}]", "{v: 1}");
    assert!(error(&[parent, child]).starts_with("documents depend on each other in a cycle"));
}

#[test]
fn an_abstract_parents_substitutions_reach_its_children() {
    let secret = passphrase("ipmi", "site", "password123");
    let parent = doc(
        "drydock/HostProfile/v1",
        "cp-global",
        "global",
        "abstract: true, labels: {hosttype: cp}, substitutions: [{src: {schema: deckhand/Passphrase/v1, name: ipmi, path: .}, dest: {path: .oob.credential}}]",
        "{oob: {type: ipmi}}",
    );
    let child = doc(
        "drydock/HostProfile/v1",
        "cp",
        "site",
        "parentSelector: {hosttype: cp}, actions: [{method: merge, path: .}]",
        "{oob: {account: root}}",
    );
    let rendered = run(&with_policy(&[parent, child, secret])).expect("renders");
    assert_eq!(data_of(&rendered, "cp"), "{'oob': {'type': 'ipmi', 'credential': 'password123', 'account': 'root'}}");
}

// ------------------------------------------------------------- replacement

fn replaced_parent() -> String {
    doc("k/Kind/v1", "thing", "global", "labels: {name: thing}", "{a: 1, b: 1}")
}

#[test]
fn a_replacement_takes_its_parents_place_for_output_children_and_sources() {
    let replacement = doc(
        "k/Kind/v1",
        "thing",
        "site",
        "replacement: true, parentSelector: {name: thing}, actions: [{method: merge, path: .}]",
        "{b: 2}",
    );
    let sibling = doc("k/Kind/v1", "sibling", "site", "parentSelector: {name: thing}, actions: [{method: merge, path: .}]", "{c: 3}");
    let reader = substituting("reader", "[{src: {schema: k/Kind/v1, name: thing, path: .b}, dest: {path: .b}}]", "{}");
    let rendered = run(&with_policy(&[reader, sibling, replaced_parent(), replacement])).expect("renders");
    assert_eq!(names(&rendered), ["layering-policy", "reader", "sibling", "thing"]);
    assert_eq!(data_of(&rendered, "thing"), "{'a': 1, 'b': 2}");
    assert_eq!(rendered.documents[3].id.layer.as_deref(), Some("site"), "the replacement is output, not the replaced");
    assert_eq!(rendered.documents[3].replaces.as_ref().map(ToString::to_string).as_deref(), Some("[k/Kind/v1, global] thing"));
    assert_eq!(data_of(&rendered, "sibling"), "{'a': 1, 'b': 2, 'c': 3}", "siblings layer on the replacement");
    assert_eq!(data_of(&rendered, "reader"), "{'b': 2}", "substitutions read the replacement");
}

#[test]
fn replacement_rules_are_enforced() {
    let orphan = doc("k/Kind/v1", "thing", "site", "replacement: true", "{}");
    assert!(
        error(&[orphan])
            .ends_with("thing: has replacement: true but no parent: a replacement's parentSelector must select the document it replaces")
    );

    let renamed =
        doc("k/Kind/v1", "other", "site", "replacement: true, parentSelector: {name: thing}, actions: [{method: merge, path: .}]", "{}");
    assert!(error(&[replaced_parent(), renamed]).contains("has another schema or name"));

    let same_name = doc("k/Kind/v1", "thing", "site", "parentSelector: {name: thing}, actions: [{method: merge, path: .}]", "{}");
    assert!(
        error(&[replaced_parent(), same_name])
            .contains("has the schema and metadata.name of its parent [k/Kind/v1, global] thing (site.yaml:5) but not replacement: true")
    );

    let unrelated = doc("k/Kind/v1", "thing", "site", "", "{}");
    assert!(
        error(&[replaced_parent(), unrelated])
            .contains("[k/Kind/v1, global] thing (site.yaml:5) has the same schema and metadata.name and neither has replacement: true")
    );

    let middle = doc(
        "k/Kind/v1",
        "thing",
        "type",
        "labels: {name: thing}, replacement: true, parentSelector: {name: thing}, actions: [{method: merge, path: .}]",
        "{}",
    );
    let last =
        doc("k/Kind/v1", "thing", "site", "replacement: true, parentSelector: {name: thing}, actions: [{method: merge, path: .}]", "{}");
    assert!(
        error(&[replaced_parent(), middle, last])
            .contains("which is itself a replacement: a replacement document cannot itself be replaced")
    );
}

// ----------------------------------------------------------------- secrets

#[test]
fn encrypted_data_is_masked_for_printing_and_redacted_from_messages() {
    let secret =
        doc("deckhand/Passphrase/v1", "pw", "site", "", "correct-horse").replace("storagePolicy: cleartext", "storagePolicy: encrypted");
    let chart = substituting(
        "chart",
        "[{src: {schema: deckhand/Passphrase/v1, name: pw, path: .}, dest: [{path: .password}, {path: .url, pattern: PW}]}]",
        "{user: admin, url: 'http://admin:PW@svc'}",
    );
    let rendered = run(&with_policy(&[secret, chart])).expect("renders");
    assert!(rendered.has_secrets());
    let chart = rendered.documents.iter().find(|document| document.id.name == "chart").expect("chart");
    assert_eq!(
        chart.data().py_repr(),
        "{'user': 'admin', 'url': 'http://admin:correct-horse@svc', 'password': 'correct-horse'}",
        "rendered in clear for Drydock"
    );
    let masked = chart.masked().py_repr();
    assert!(!masked.contains("correct-horse") && masked.contains(MASK) && masked.contains("'user': 'admin'"), "{masked}");
    let secret = rendered.documents.iter().find(|document| document.id.name == "pw").expect("secret");
    assert_eq!(secret.secrecy, Secrecy::Whole);
    assert!(!secret.masked().py_repr().contains("correct-horse"));
    let printed = emit::yaml_stream(&rendered.documents, emit::EmitOptions { provenance: true });
    assert!(!printed.contains("correct-horse"), "{printed}");
    assert!(!emit::json_documents(&rendered.documents).to_string().contains("correct-horse"));
    assert_eq!(rendered.redact("bad value 'http://admin:correct-horse@svc'"), "bad value 'http://admin:***@svc'");
}

#[test]
fn errors_never_quote_data() {
    let secret =
        doc("deckhand/Passphrase/v1", "pw", "site", "", "correct-horse").replace("storagePolicy: cleartext", "storagePolicy: encrypted");
    let chart =
        substituting("chart", "[{src: {schema: deckhand/Passphrase/v1, name: pw, path: .}, dest: {path: .a.b}}]", "{a: correct-horse-2}");
    let failure = run(&with_policy(&[secret, chart])).expect_err("cannot write");
    let mut chain = failure.to_string();
    let mut cause = std::error::Error::source(&failure);
    while let Some(error) = cause {
        chain.push_str(&format!(": {error}"));
        cause = error.source();
    }
    assert!(chain.ends_with("dest .a.b: the path cannot be written: cannot write at .a.b: .a is a str, not a map"), "{chain}");
    assert!(!chain.contains("correct-horse"), "{chain}");
}

// ------------------------------------------------------------------ budget

#[test]
fn growth_past_the_budget_is_an_error_not_an_exhausted_memory() {
    // Each document holds its predecessor twice: 2^40 copies by the end.
    let mut documents = vec![doc("k/Kind/v1", "d0", "site", "", "{v: [x, x, x, x]}")];
    for level in 1..40 {
        let previous = level - 1;
        documents.push(substituting(
            &format!("d{level}"),
            &format!("[{{src: {{schema: k/Kind/v1, name: d{previous}, path: .}}, dest: [{{path: .v.a}}, {{path: .v.b}}]}}]"),
            "{}",
        ));
    }
    let message = error(&documents);
    assert!(
        message.contains("rendering exceeds the limit of") && (message.contains("nodes") || message.contains("levels of nesting")),
        "{message}"
    );

    // Each document nests its predecessor one level deeper.
    let mut deep = vec![doc("k/Kind/v1", "d0", "site", "", "{v: 1}")];
    for level in 1..300 {
        deep.push(substituting(
            &format!("d{level}"),
            &format!("[{{src: {{schema: k/Kind/v1, name: d{}, path: .}}, dest: {{path: .v}}}}]", level - 1),
            "{}",
        ));
    }
    assert!(error(&deep).contains("rendering exceeds the limit of 256 levels of nesting"));
}

#[test]
fn format_problems_are_all_reported_with_their_lines() {
    let bad = doc("k/Kind/v1", "a", "site", "", "{}").replace("storagePolicy: cleartext, ", "");
    let worse = "schema: nonsense\nmetadata: {schema: metadata/Document/v1, name: b, storagePolicy: cleartext, layeringDefinition: {layer: site}}\ndata: {}\n".to_owned();
    let Err(RenderError::Format { problems }) = run(&with_policy(&[bad, worse])) else {
        panic!("format errors");
    };
    let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "site.yaml:7: [k/Kind/v1, site] a: metadata.storagePolicy is required",
            "site.yaml:10: [nonsense, site] b: schema \"nonsense\" is not of the form namespace/Kind/vN",
        ]
    );
}
