//! `drydock/Region/v1` → [`Region`] (compat: site-design spec §2.1).

use super::coerce::{MapError, MapResult, as_map, key_string, opt_bool, opt_string, string_list, string_map, to_string_list};
use crate::ingest::value::{Map, Value};
use crate::model::{DocMeta, Region, Repository, RepositoryList, TagDefinition};

pub(super) fn map(meta: DocMeta, data: &Map) -> MapResult<Region> {
    let mut tag_definitions = Vec::new();
    if let Some(Value::Seq(seq)) = data.get("tag_definitions") {
        for item in &seq.items {
            let entry = as_map(item, "tag_definitions")?;
            let definition_type = opt_string(entry, "definition_type")?
                .ok_or_else(|| MapError::new("tag definition needs a definition_type (lshw_xpath)").at(Some(entry.line)))?;
            tag_definitions.push(TagDefinition {
                tag: opt_string(entry, "tag")?.unwrap_or_default(),
                definition_type,
                definition: opt_string(entry, "definition")?.unwrap_or_default(),
            });
        }
    }
    let repositories = match data.get("repositories") {
        Some(Value::Map(repos)) if !repos.is_empty() => Some(map_repositories(repos)?),
        _ => None,
    };
    Ok(Region { meta, tag_definitions, authorized_keys: string_list(data, "authorized_keys")?, repositories })
}

fn map_repositories(repos: &Map) -> MapResult<RepositoryList> {
    let mut list = RepositoryList { remove_unlisted: opt_bool(repos, "remove_unlisted").unwrap_or(false), repositories: Vec::new() };
    for (key, value) in &repos.entries {
        let name = key_string(key, "repositories")?;
        if name == "remove_unlisted" {
            continue;
        }
        let entry = as_map(value, &format!("repositories[{name}]"))?;
        let optional_list = |field: &str| -> MapResult<Option<Vec<String>>> {
            match entry.get(field) {
                None | Some(Value::Null) => Ok(None),
                Some(value) => to_string_list(value, field).map(Some),
            }
        };
        list.repositories.push(Repository {
            url: opt_string(entry, "url")?,
            repo_type: opt_string(entry, "repo_type")?,
            gpgkey: opt_string(entry, "gpgkey")?,
            distributions: optional_list("distributions")?,
            subrepos: optional_list("subrepos")?,
            components: optional_list("components")?,
            arches: optional_list("arches")?,
            options: string_map(entry, "options")?,
            name,
        });
    }
    Ok(list)
}
