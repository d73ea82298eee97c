//! Planned MaaS calls: what the pure planners produce and [`apply`] runs.
//! A call may use ids that an earlier call of the same plan creates: such a
//! value is a [`Val::Ref`] (or a `{name}` placeholder in the path), bound
//! from the earlier call's JSON answer by a JSON pointer.

use std::collections::HashMap;
use std::fmt;

use serde_json::Value;

use super::client::{MaasClient, Verb};
use super::form::Form;
use crate::drivers::{DriverError, DriverErrorKind};

/// A form value: literal text, or an id bound by an earlier call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    /// Literal text.
    Lit(String),
    /// The id bound under this name.
    Ref(String),
}

impl From<&str> for Val {
    fn from(text: &str) -> Val {
        Val::Lit(text.to_owned())
    }
}

impl From<String> for Val {
    fn from(text: String) -> Val {
        Val::Lit(text)
    }
}

impl From<i64> for Val {
    fn from(id: i64) -> Val {
        Val::Lit(id.to_string())
    }
}

impl From<u64> for Val {
    fn from(id: u64) -> Val {
        Val::Lit(id.to_string())
    }
}

/// One planned request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// Verb.
    pub verb: Verb,
    /// Path under `/api/2.0/`, with `{name}` placeholders for bound ids.
    pub path: String,
    /// The `op`.
    pub op: Option<&'static str>,
    /// Form fields.
    pub form: Vec<(String, Val)>,
    /// Names to bind from the answer: (name, JSON pointer).
    pub binds: Vec<(String, &'static str)>,
    /// A create that another writer may have made first: MaaS's "already
    /// exists" answer counts as done.
    pub exists_ok: bool,
}

impl Call {
    fn new(verb: Verb, path: impl Into<String>, op: Option<&'static str>) -> Call {
        Call { verb, path: path.into(), op, form: Vec::new(), binds: Vec::new(), exists_ok: false }
    }

    /// `POST path?op=op` (or a create when `op` is `None`).
    pub fn post(path: impl Into<String>, op: Option<&'static str>) -> Call {
        Call::new(Verb::Post, path, op)
    }

    /// `PUT path`.
    pub fn put(path: impl Into<String>) -> Call {
        Call::new(Verb::Put, path, None)
    }

    /// `DELETE path`.
    pub fn delete(path: impl Into<String>) -> Call {
        Call::new(Verb::Delete, path, None)
    }

    /// Add a field.
    pub fn field(mut self, name: &str, value: impl Into<Val>) -> Call {
        self.form.push((name.to_owned(), value.into()));
        self
    }

    /// Add a field when there is a value.
    pub fn field_opt(self, name: &str, value: Option<impl Into<Val>>) -> Call {
        match value {
            Some(value) => self.field(name, value),
            None => self,
        }
    }

    /// Bind `name` to the answer's value at `pointer` (e.g. `/id`).
    pub fn bind(mut self, name: impl Into<String>, pointer: &'static str) -> Call {
        self.binds.push((name.into(), pointer));
        self
    }

    /// Accept "already exists" (a create that races with another node's).
    pub fn exists_ok(mut self) -> Call {
        self.exists_ok = true;
        self
    }

    /// The literal value of field `name`, for tests and summaries.
    pub fn literal(&self, name: &str) -> Option<&str> {
        self.form.iter().find_map(|(key, value)| match value {
            Val::Lit(text) if key == name => Some(text.as_str()),
            _ => None,
        })
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.verb.as_str(), self.path)?;
        if let Some(op) = self.op {
            write!(f, "?op={op}")?;
        }
        Ok(())
    }
}

/// Ids bound while a plan runs.
#[derive(Debug, Default, Clone)]
pub struct Bindings(HashMap<String, String>);

impl Bindings {
    /// The id bound to `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    fn resolve(&self, value: &Val) -> Result<String, String> {
        match value {
            Val::Lit(text) => Ok(text.clone()),
            Val::Ref(name) => self.get(name).map(str::to_owned).ok_or_else(|| format!("no id was bound to {name}")),
        }
    }

    fn path(&self, template: &str) -> Result<String, String> {
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let close = rest[open..].find('}').map(|c| open + c).ok_or_else(|| format!("unclosed placeholder in {template}"))?;
            let name = &rest[open + 1..close];
            out.push_str(self.get(name).ok_or_else(|| format!("no id was bound to {name}"))?);
            rest = &rest[close + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// Run `calls` in order; stop at the first failure. Returns the bindings and
/// one line per call made.
pub async fn apply(client: &MaasClient, operation: &'static str, calls: &[Call]) -> Result<(Bindings, Vec<String>), DriverError> {
    let mut bindings = Bindings::default();
    let mut done = Vec::with_capacity(calls.len());
    let broken = |detail: String| DriverError::new(DriverErrorKind::Permanent, operation, client.endpoint(), detail);
    for call in calls {
        let path = bindings.path(&call.path).map_err(broken)?;
        let mut form = Form::new();
        for (name, value) in &call.form {
            form.push(name, bindings.resolve(value).map_err(broken)?);
        }
        let answer = match client.call(operation, call.verb, &path, call.op, &[], &form).await {
            Ok(answer) => answer,
            Err(error) if call.exists_ok && error.kind() == DriverErrorKind::Permanent && error.detail.contains("already exists") => {
                Value::Null
            }
            Err(error) => return Err(error),
        };
        for (name, pointer) in &call.binds {
            let value = answer.pointer(pointer).ok_or_else(|| broken(format!("{call}: the answer has no {pointer}")))?;
            let text = match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            bindings.0.insert(name.clone(), text);
        }
        done.push(match call.op {
            Some(op) => format!("{} {path}?op={op}", call.verb.as_str()),
            None => format!("{} {path}", call.verb.as_str()),
        });
    }
    Ok((bindings, done))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_resolve_from_bindings() {
        let mut bindings = Bindings::default();
        bindings.0.insert("fabric:oam".into(), "7".into());
        assert_eq!(bindings.path("fabrics/{fabric:oam}/vlans/").as_deref(), Ok("fabrics/7/vlans/"));
        assert!(bindings.path("fabrics/{missing}/").is_err());
        assert_eq!(bindings.resolve(&Val::Ref("fabric:oam".into())).as_deref(), Ok("7"));
        let call = Call::post("fabrics/", None).field("name", "oam").bind("fabric:oam", "/id");
        assert_eq!(call.to_string(), "POST fabrics/");
        assert_eq!(call.literal("name"), Some("oam"));
    }
}
