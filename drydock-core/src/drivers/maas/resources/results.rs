//! Build data from commissioning: `machines/{sid}/?op=details` (a BSON
//! document `{lshw, lldp}`) and `commissioning-results/` (script output,
//! base64). The BSON reader understands only what that document holds:
//! binary, string and null elements at the top level.

use base64::Engine;
use serde::Deserialize;

use super::null_default;
use crate::drivers::maas::client::{MaasClient, Verb};
use crate::drivers::maas::form::Form;
use crate::drivers::{CollectedData, DriverError, DriverErrorKind};

/// One script result.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ScriptResult {
    /// Result id.
    #[serde(default)]
    pub id: i64,
    /// Script name.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// Output, base64.
    #[serde(default, deserialize_with = "null_default")]
    pub data: String,
}

/// One top-level BSON element: its name and its bytes (`None` for null).
pub type BsonEntry = (String, Option<Vec<u8>>);

/// The top-level elements of a BSON document whose values are binary,
/// strings or null, in order. Anything else is an error naming the offset.
pub fn bson_entries(doc: &[u8]) -> Result<Vec<BsonEntry>, String> {
    let read_i32 = |at: usize| -> Result<usize, String> {
        let bytes: [u8; 4] = doc.get(at..at + 4).and_then(|b| b.try_into().ok()).ok_or_else(|| format!("truncated at byte {at}"))?;
        usize::try_from(i32::from_le_bytes(bytes)).map_err(|_| format!("negative length at byte {at}"))
    };
    let total = read_i32(0)?;
    if total != doc.len() || total < 5 {
        return Err(format!("document length {total} does not match {} bytes", doc.len()));
    }
    let mut at = 4;
    let mut entries = Vec::new();
    while at < total - 1 {
        let kind = doc[at];
        at += 1;
        let end = doc[at..].iter().position(|b| *b == 0).map(|p| at + p).ok_or("unterminated element name")?;
        let name = String::from_utf8_lossy(&doc[at..end]).into_owned();
        at = end + 1;
        match kind {
            0x05 => {
                let len = read_i32(at)?;
                let start = at + 5;
                let bytes = doc.get(start..start + len).ok_or_else(|| format!("binary {name} runs past the end"))?;
                entries.push((name, Some(bytes.to_vec())));
                at = start + len;
            }
            0x02 => {
                let len = read_i32(at)?;
                let start = at + 4;
                let bytes = doc.get(start..start + len.saturating_sub(1)).ok_or_else(|| format!("string {name} runs past the end"))?;
                entries.push((name, Some(bytes.to_vec())));
                at = start + len;
            }
            0x0A => entries.push((name, None)),
            other => return Err(format!("element {name} has unsupported BSON type {other:#04x}")),
        }
    }
    Ok(entries)
}

impl MaasClient {
    /// lshw and lldp of a machine (`text/xml`), as build data.
    pub async fn machine_details(&self, system_id: &str) -> Result<Vec<CollectedData>, DriverError> {
        let path = format!("machines/{system_id}/");
        let body = self.call_raw("build_data", Verb::Get, &path, Some("details"), &[], &Form::new()).await?;
        let entries = bson_entries(&body).map_err(|e| {
            DriverError::new(DriverErrorKind::Permanent, "build_data", self.endpoint(), format!("unreadable details of {system_id}: {e}"))
        })?;
        Ok(entries
            .into_iter()
            .filter_map(|(name, value)| {
                let data = String::from_utf8_lossy(&value?).into_owned();
                let data_format = if name == "lshw" || name == "lldp" { "text/xml" } else { "text/plain" };
                Some(CollectedData { generator: name, data_format: data_format.into(), data })
            })
            .collect())
    }

    /// The lshw XML of a machine, if commissioning produced one.
    pub async fn lshw(&self, system_id: &str) -> Result<Option<String>, DriverError> {
        Ok(self.machine_details(system_id).await?.into_iter().find(|item| item.generator == "lshw").map(|item| item.data))
    }

    /// Script results of one kind (0 commissioning, 1 deployment, 2 testing)
    /// with non-empty output, as build data `<prefix>:<name>`. Filters go in
    /// the query string, which MaaS honours (compat: drivers spec §2.1 quirk).
    pub async fn script_results(&self, system_id: &str, result_type: u8, prefix: &str) -> Result<Vec<CollectedData>, DriverError> {
        let kind = result_type.to_string();
        let results: Vec<ScriptResult> =
            self.get("build_data", "commissioning-results/", None, &[("system_id", system_id), ("result_type", &kind)]).await?;
        // MaaS lists `<name>.err` with the same id after `<name>`; keep one per id, the last (as the original does).
        let mut by_id: indexmap::IndexMap<i64, ScriptResult> = indexmap::IndexMap::new();
        for result in results {
            by_id.insert(result.id, result);
        }
        Ok(by_id
            .into_values()
            .filter_map(|result| {
                let bytes = base64::engine::general_purpose::STANDARD.decode(result.data.trim()).ok()?;
                (!bytes.is_empty()).then(|| CollectedData {
                    generator: format!("{prefix}:{}", result.name),
                    data_format: "text/plain".into(),
                    data: String::from_utf8_lossy(&bytes).into_owned(),
                })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(elements: &[(u8, &str, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (kind, name, value) in elements {
            body.push(*kind);
            body.extend_from_slice(name.as_bytes());
            body.push(0);
            if *kind == 0x05 {
                body.extend_from_slice(&(value.len() as i32).to_le_bytes());
                body.push(0);
                body.extend_from_slice(value);
            }
        }
        let mut out = ((body.len() + 5) as i32).to_le_bytes().to_vec();
        out.extend(body);
        out.push(0);
        out
    }

    #[test]
    fn binary_and_null_elements_decode() {
        let entries = bson_entries(&doc(&[(0x05, "lshw", b"<list/>"), (0x0A, "lldp", b"")])).expect("decodes");
        assert_eq!(entries, vec![("lshw".to_owned(), Some(b"<list/>".to_vec())), ("lldp".to_owned(), None)]);
    }

    #[test]
    fn hostile_documents_are_errors_not_panics() {
        assert!(bson_entries(b"").is_err());
        assert!(bson_entries(&[5, 0, 0, 0, 0, 9]).is_err());
        let mut bad = doc(&[(0x05, "lshw", b"abc")]);
        bad[10] = 0x7f; // binary length far past the end
        assert!(bson_entries(&bad).is_err());
        assert!(bson_entries(&doc(&[(0x10, "n", b"")])).is_err());
    }
}
