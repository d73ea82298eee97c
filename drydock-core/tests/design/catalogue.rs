//! `docs/validation-rules.md` is generated from the rules' `//!` comments
//! (in the order of `RULES`) and must match the committed file. Regenerate
//! with `UPDATE_DOCS=1 cargo test -p drydock-core --test design catalogue`.

use std::path::Path;

use drydock_core::validate::RULES;

const HEADER: &str = "# Validation rules

<!-- Generated from drydock-core/src/validate/rules/*.rs by the `catalogue` test; do not edit. -->

Drydock runs these 18 rules on every design, always all of them, in this
order (compat: site-design spec §6). Every message starts with the rule's long
name; a rule that reports no error adds an Info `<name>: Validation
successful.`. Codes are the original's and are **not unique**: DD2002, DD2003,
DD2004, DD4001 and DD4002 each name two rules, so tell them apart by the
message prefix (or the `rule` field of the library's findings).

Ingestion reports two more codes before any rule runs:

- **DD000** (Error): a document could not be turned into a design object (a
  required field is missing, a value has the wrong type or an unknown enum
  value, an unknown kind or version, an empty `metadata.name`). The message
  names the field; the finding cites the document and its line.
- **DD001** (Error): a document's `data` does not match the kind's JSON schema
  (Draft 4, the original's schemas). One finding per violation, worded as
  Python's `jsonschema` words it.

A site repository (`drydock validate --site`, `pegleg+file://` references) is
rendered first, and rendering adds two codes of this rewrite's own:

- **DD010** (Error): the site does not render (a document not in Deckhand's
  format, a layer not in the layering policy, an invalid or ambiguous parent,
  a broken replacement rule, a layering action or substitution that cannot
  be applied, a missing substitution source, a dependency cycle, a rendering
  limit). One finding per problem, citing the document, its file and line;
  no rule runs.
- **DD011** (Warning): something Deckhand renders but that is likely a
  mistake (a `parentSelector` that matches nothing, a pattern that matches
  nothing, a second layering policy).

| # | Code | Rule |
|---|------|------|
";

fn rule_file(name: &str, mod_source: &str) -> String {
    let line = mod_source.lines().find(|line| line.contains(&format!("name: \"{name}\""))).expect("rule listed in RULES");
    let check = line.split("check: ").nth(1).expect("check field");
    format!("{}.rs", check.split("::").next().expect("module"))
}

fn doc_comment(source: &str) -> String {
    source
        .lines()
        .take_while(|line| line.starts_with("//!"))
        .map(|line| line.trim_start_matches("//!").strip_prefix(' ').unwrap_or(line.trim_start_matches("//!")))
        .collect::<Vec<_>>()
        .join("\n")
}

fn generate() -> String {
    let rules_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/validate/rules");
    let mod_source = std::fs::read_to_string(rules_dir.join("mod.rs")).expect("rules/mod.rs");
    let mut out = String::from(HEADER);
    for (index, rule) in RULES.iter().enumerate() {
        out.push_str(&format!("| {} | {} | [{}](#{}) |\n", index + 1, rule.code, rule.name, anchor(index, rule.code, rule.name)));
    }
    for (index, rule) in RULES.iter().enumerate() {
        let file = rule_file(rule.name, &mod_source);
        let source = std::fs::read_to_string(rules_dir.join(&file)).expect("rule file");
        let doc = doc_comment(&source);
        assert!(doc.contains(rule.code) && doc.contains(rule.name), "{file}: the doc comment must name {} {}", rule.code, rule.name);
        out.push_str(&format!(
            "\n## {}. {} {}\n\nSource: `drydock-core/src/validate/rules/{file}`\n\n{doc}\n",
            index + 1,
            rule.code,
            rule.name
        ));
    }
    out
}

fn anchor(index: usize, code: &str, name: &str) -> String {
    format!("{}-{}-{}", index + 1, code.to_lowercase(), name.to_lowercase().replace(' ', "-"))
}

#[test]
fn catalogue_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/validation-rules.md");
    let generated = generate();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &generated).expect("write catalogue");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/validation-rules.md is stale: run UPDATE_DOCS=1 cargo test -p drydock-core --test design catalogue"
    );
}
