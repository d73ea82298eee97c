//! The `describe/` document python-libmaas and the `maas` CLI build their
//! client from (compat: drivers.md §3.8), generated from the route table.

use super::routes::{ROUTES, params_of};
use serde_json::{Value, json};

/// Builds the description; `base_url` is `http://host:port` as the client saw it.
pub fn document(base_url: &str) -> Value {
    let mut resources = Vec::new();
    for route in ROUTES.iter().filter(|r| r.listed) {
        let path = format!("{}/{}", super::json::API, route.path);
        let actions: Vec<Value> = route
            .actions
            .iter()
            .map(|a| json!({"name": a.name, "method": a.method, "op": a.op, "restful": a.op.is_none(), "doc": format!("{} {}", a.method, a.name)}))
            .collect();
        let handler = json!({
            "name": route.handler,
            "doc": format!("{} (drydock-sim)", route.handler),
            "params": params_of(route.path),
            "path": path,
            "uri": format!("{base_url}{path}"),
            "actions": actions,
        });
        let (anon, auth) = if route.anon { (handler, Value::Null) } else { (Value::Null, handler) };
        resources.push(json!({"name": route.handler, "anon": anon, "auth": auth}));
    }
    json!({"doc": "MAAS API", "hash": "d7f1e0c0ffee5117d7f1e0c0ffee5117d7f1e0c0", "resources": resources})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handlers_carry_params_and_uris() {
        let doc = document("http://127.0.0.1:1");
        let resources = doc["resources"].as_array().cloned().unwrap_or_default();
        let machine = resources.iter().find(|r| r["name"] == "MachineHandler").cloned().unwrap_or(Value::Null);
        assert_eq!(machine["auth"]["params"], json!(["system_id"]));
        assert_eq!(machine["auth"]["uri"], "http://127.0.0.1:1/MAAS/api/2.0/machines/{system_id}/");
        let deploy = machine["auth"]["actions"].as_array().and_then(|a| a.iter().find(|x| x["name"] == "deploy").cloned());
        assert_eq!(deploy, Some(json!({"name": "deploy", "method": "POST", "op": "deploy", "restful": false, "doc": "POST deploy"})));
        let version = resources.iter().find(|r| r["name"] == "VersionHandler").cloned().unwrap_or(Value::Null);
        assert!(version["auth"].is_null() && version["anon"].is_object());
        assert!(!resources.iter().any(|r| r["name"] == "DescribeHandler"));
    }
}
