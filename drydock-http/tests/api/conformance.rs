//! Response bodies checked against the committed OpenAPI document: the
//! subset of OpenAPI 3.0 schemas the document uses (`$ref`, `type`,
//! `nullable`, `required`, `properties`, `additionalProperties`, `items`,
//! `allOf`, `anyOf`, `oneOf`, `enum`), so tests can prove the shapes they read are the ones
//! the document promises (schemathesis does the same for generated requests).

use std::sync::LazyLock;

use serde_json::{Value, json};

static DOCUMENT: LazyLock<Value> = LazyLock::new(|| {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/drydock-v1.0.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("the committed OpenAPI document")).expect("OpenAPI JSON")
});

/// Panics unless `body` fits the document's schema for the `status` answer
/// of `method` on `path` (a template such as `/api/v1.0/tasks/{task_id}`).
pub(crate) fn assert_documented(method: &str, path: &str, status: u16, body: &Value) {
    let responses = &DOCUMENT["paths"][path][method]["responses"][status.to_string()];
    let content = responses["content"].as_object().unwrap_or_else(|| panic!("{method} {path} {status}: not in the document"));
    let (_, media) = content.iter().next().expect("a media type");
    let problems = violations(&media["schema"], body, "$");
    assert!(problems.is_empty(), "{method} {path} {status} does not match the document:\n{}\nbody: {body}", problems.join("\n"));
}

/// The document's path template a concrete request path (no query) falls
/// under: `/api/v1.0/tasks/abc/builddata` → `/api/v1.0/tasks/{task_id}/builddata`.
pub(crate) fn template(path: &str) -> &'static str {
    let segments: Vec<&str> = path.split('/').collect();
    let paths = DOCUMENT["paths"].as_object().expect("paths");
    let fits = |candidate: &str| {
        let pattern: Vec<&str> = candidate.split('/').collect();
        pattern.len() == segments.len()
            && pattern.iter().zip(&segments).all(|(want, got)| (want.starts_with('{') && want.ends_with('}')) || want == got)
    };
    // A literal segment beats a parameter (`/designs/{id}/parts/{kind}` vs nothing shorter).
    let mut found: Vec<&String> = paths.keys().filter(|candidate| fits(candidate)).collect();
    found.sort_by_key(|candidate| candidate.matches('{').count());
    found.first().unwrap_or_else(|| panic!("{path}: no path of the document")).as_str()
}

fn resolve(schema: &Value) -> &Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference.strip_prefix("#/components/schemas/").expect("a component reference");
            resolve(&DOCUMENT["components"]["schemas"][name])
        }
        None => schema,
    }
}

/// Where `value` breaks `schema` (empty: it fits).
fn violations(schema: &Value, value: &Value, at: &str) -> Vec<String> {
    let schema = resolve(schema);
    if value.is_null() && schema.get("nullable") == Some(&json!(true)) {
        return Vec::new();
    }
    let mut out = Vec::new();
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for part in all {
            out.extend(violations(part, value, at));
        }
    }
    if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
        let tried: Vec<Vec<String>> = any.iter().map(|option| violations(option, value, at)).collect();
        if !tried.iter().any(Vec::is_empty) {
            out.push(format!("{at}: fits none of anyOf ({})", tried.concat().join("; ")));
        }
    }
    let fits = match schema.get("type").and_then(Value::as_str) {
        None => true,
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        Some(other) => panic!("type {other} is not checked here"),
    };
    if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
        let tried: Vec<Vec<String>> = one.iter().map(|option| violations(option, value, at)).collect();
        match tried.iter().filter(|problems| problems.is_empty()).count() {
            1 => {}
            0 => out.push(format!("{at}: fits none of oneOf ({})", tried.concat().join("; "))),
            n => out.push(format!("{at}: fits {n} of oneOf")),
        }
    }
    if !fits {
        out.push(format!("{at}: {value} is not of type {}", schema["type"]));
        return out;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        out.push(format!("{at}: {value} is not one of {}", Value::Array(allowed.clone())));
    }
    if let Some(map) = value.as_object() {
        for name in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
            let name = name.as_str().expect("a property name");
            if !map.contains_key(name) {
                out.push(format!("{at}: missing {name}"));
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (name, item) in map {
            let inner = format!("{at}.{name}");
            match (properties.and_then(|properties| properties.get(name)), schema.get("additionalProperties")) {
                (Some(property), _) => out.extend(violations(property, item, &inner)),
                (None, Some(Value::Bool(false))) => out.push(format!("{inner}: not allowed")),
                (None, Some(extra)) if extra.is_object() => out.extend(violations(extra, item, &inner)),
                (None, _) => {}
            }
        }
    }
    if let (Some(items), Some(list)) = (schema.get("items"), value.as_array()) {
        for (index, item) in list.iter().enumerate() {
            out.extend(violations(items, item, &format!("{at}[{index}]")));
        }
    }
    out
}

#[test]
fn the_checker_rejects_what_the_document_does_not_allow() {
    let task = &DOCUMENT["components"]["schemas"]["Task"];
    assert!(!violations(task, &json!({"task_id": "x"}), "$").is_empty(), "missing properties");
    let detail = json!({"$ref": "#/components/schemas/TaskShown"});
    let layered = json!({"init_task_id": "r", "r": null, "s": {"task_id": 3}});
    let problems = violations(&detail, &layered, "$");
    assert!(problems.iter().any(|problem| problem.contains("fits none of oneOf")), "{problems:?}");
    let status = json!({"$ref": "#/components/schemas/TaskStatus"});
    assert!(!violations(&status, &json!("sleeping"), "$").is_empty(), "not an enum value");
    assert!(violations(&status, &json!("complete"), "$").is_empty());
    assert!(violations(&detail, &json!({"init_task_id": "r", "r": null}), "$").is_empty(), "a purged descendant is null");
    assert!(!violations(&json!({"type": "integer"}), &json!("1"), "$").is_empty());
    assert_eq!(template("/api/v1.0/tasks/abc/builddata"), "/api/v1.0/tasks/{task_id}/builddata");
    assert_eq!(template("/api/v1.0/tasks"), "/api/v1.0/tasks");
}

#[test]
fn error_bodies_that_are_a_one_of_fit_exactly_one_branch() {
    // The envelope and the Status documents that share an operation's error
    // statuses are told apart by their required fields.
    let envelope = json!({"type": "error", "message": "Forbidden", "retry": false});
    for name in ["HealthFailure", "ValidationFailure"] {
        let schema = json!({"$ref": format!("#/components/schemas/{name}")});
        assert!(violations(&schema, &envelope, "$").is_empty(), "{name}: the envelope");
        assert!(!violations(&schema, &json!({"message": "x"}), "$").is_empty(), "{name}: neither branch");
    }
}
