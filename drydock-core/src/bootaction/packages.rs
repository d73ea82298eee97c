//! `pkg_list` assets (compat: site-design spec §5.4): parsing a package
//! list fetched from a `location`, the union of a node's package lists, and
//! the cloud-init `packages` directive the node driver puts in user data.

use indexmap::IndexMap;

use crate::ingest::value::Value;
use crate::ingest::yaml::{YamlLimits, parse_stream};

/// Package name → version (`None`: any version).
pub type PackageList = IndexMap<String, Option<String>>;

/// Parse a fetched package list (YAML or JSON).
pub fn parse_package_list(bytes: &[u8]) -> Result<PackageList, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "Invalid YAML in package list: not UTF-8".to_owned())?;
    let documents = parse_stream(text, &YamlLimits::default()).map_err(|error| format!("Invalid YAML in package list: {error}"))?;
    let Some(Value::Map(map)) = documents.into_iter().next().map(|document| document.value) else {
        return Err("Package data should have a top-level mapping/object.".into());
    };
    let mut list = PackageList::new();
    for (key, value) in map.entries {
        let Value::Str(name) = key else {
            return Err("Keys and values must be strings.".into());
        };
        let version = match value {
            Value::Str(text) => Some(text),
            other if !other.is_truthy() => None,
            _ => return Err("Keys and values must be strings.".into()),
        };
        list.insert(name, version);
    }
    Ok(list)
}

/// Merge `more` into `into`: later lists overwrite earlier entries.
pub fn merge_into(into: &mut PackageList, more: PackageList) {
    for (name, version) in more {
        into.insert(name, version);
    }
}

/// cloud-init user data installing `packages` (`[name, version]` when a
/// version is given).
pub fn cloud_config(packages: &PackageList) -> String {
    let mut out = String::from("#cloud-config\npackages:\n");
    for (name, version) in packages {
        let name = serde_json::Value::String(name.clone());
        match version.as_deref().filter(|version| !version.is_empty()) {
            Some(version) => out.push_str(&format!("- [{name}, {}]\n", serde_json::Value::String(version.to_owned()))),
            None => out.push_str(&format!("- {name}\n")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_renders() {
        let list = parse_package_list(b"2ping: 3.2.1-1\ncurl:\n").expect("list");
        assert_eq!(list.get("2ping"), Some(&Some("3.2.1-1".into())));
        assert_eq!(list.get("curl"), Some(&None));
        assert_eq!(cloud_config(&list), "#cloud-config\npackages:\n- [\"2ping\", \"3.2.1-1\"]\n- \"curl\"\n");
        assert_eq!(parse_package_list(b"- a\n").expect_err("list"), "Package data should have a top-level mapping/object.");
        assert_eq!(parse_package_list(b"0xffff: x\n").expect_err("int key"), "Keys and values must be strings.");
        assert!(parse_package_list(b"a: [1\n").expect_err("yaml").starts_with("Invalid YAML in package list"));
    }
}
