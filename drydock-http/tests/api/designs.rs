//! The designs API: create, add parts (YAML body or reference), show, list
//! and read parts.

use poem::http::Method;
use serde_json::json;

use crate::conformance::assert_documented;
use crate::support::{Call, admin, normalise, site_ref, site_text};

#[tokio::test]
async fn getting_started_flow() {
    let server = admin();
    let created = server.send(Call::new(Method::POST, "/api/v1.0/designs")).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.json()["id"].as_str().expect("id").to_owned();
    assert_eq!(created.header("location"), Some(format!("/api/v1.0/designs/{id}").as_str()));
    insta::assert_json_snapshot!("design_created", normalise(&created.json()));

    // The original CLI's `part create`: a YAML body with ?ingester=yaml.
    let text = site_text();
    let (first, second) = text.split_at(text.find("\n---\nschema: drydock/BaremetalNode").expect("a node document") + 1);
    let part = server
        .send(
            Call::new(Method::POST, &format!("/api/v1.0/designs/{id}/parts?ingester=yaml"))
                .header("content-type", "application/x-yaml")
                .body(first.as_bytes().to_vec()),
        )
        .await;
    assert_eq!(part.status, 201, "{}", part.body);
    let tail =
        server.send(Call::new(Method::POST, &format!("/api/v1.0/designs/{id}/parts?ingester=yaml")).body(second.as_bytes().to_vec())).await;
    assert_eq!(tail.status, 201, "{}", tail.body);

    let parts = server.get(&format!("/api/v1.0/designs/{id}/parts")).await;
    assert_eq!(parts.status, 200);
    insta::assert_json_snapshot!("design_parts", normalise(&parts.json()));

    let designed = server.get(&format!("/api/v1.0/designs/{id}")).await.json();
    assert_eq!(designed["part_count"], 2);
    let compiled = server.get(&format!("/api/v1.0/designs/{id}?source=compiled")).await;
    assert_eq!(compiled.status, 200, "{}", compiled.body);
    let compiled = compiled.json();
    assert_eq!(compiled["validation"]["status"], "Success", "{compiled}");
    assert_eq!(compiled["nodes"].as_array().map(Vec::len), Some(6));

    let nodes = server.get(&format!("/api/v1.0/designs/{id}/parts/BaremetalNode")).await.json();
    assert_documented("get", "/api/v1.0/designs/{design_id}/parts/{kind}", 200, &nodes);
    let nodes = nodes.as_array().expect("documents");
    assert_eq!(nodes.len(), 6);
    let name = nodes[0]["metadata"]["name"].as_str().expect("name").to_owned();
    let one = server.get(&format!("/api/v1.0/designs/{id}/parts/baremetalnode/{name}")).await;
    assert_eq!(one.status, 200);
    assert_documented("get", "/api/v1.0/designs/{design_id}/parts/{kind}/{name}", 200, &one.json());
    assert_eq!(one.json()["metadata"]["name"], json!(name));
    server.get(&format!("/api/v1.0/designs/{id}/parts/Nothing")).await.assert_envelope(404, "Kind Nothing unknown");
    server
        .get(&format!("/api/v1.0/designs/{id}/parts/BaremetalNode/ghost"))
        .await
        .assert_envelope(404, &format!("BaremetalNode ghost not found in design {id}"));
}

#[tokio::test]
async fn parts_from_a_reference_and_copies() {
    let server = admin();
    let id = server.post("/api/v1.0/designs", &json!({})).await.json()["id"].as_str().expect("id").to_owned();
    let added = server.post(&format!("/api/v1.0/designs/{id}/parts"), &json!({"href": site_ref()})).await;
    assert_eq!(added.status, 201, "{}", added.body);
    let copy = server.post("/api/v1.0/designs", &json!({"base_design_id": id})).await;
    assert_eq!(copy.status, 201);
    assert_eq!(copy.json()["part_count"], 1);
    let copy_id = copy.json()["id"].as_str().expect("id").to_owned();
    let compiled = server.get(&format!("/api/v1.0/designs/{copy_id}?source=compiled")).await.json();
    assert_eq!(compiled["nodes"].as_array().map(Vec::len), Some(6));
}

#[tokio::test]
async fn design_errors() {
    let server = admin();
    let unknown = "0c6d0a52-5a8e-4ad1-9a8e-0f9e0d2b6b1a";
    server.get(&format!("/api/v1.0/designs/{unknown}")).await.assert_envelope(404, &format!("Design {unknown} not found"));
    server.get("/api/v1.0/designs/nope").await.assert_envelope(404, "Design nope not found");
    server
        .post("/api/v1.0/designs", &json!({"base_design_id": unknown}))
        .await
        .assert_envelope(404, &format!("Design {unknown} not found"));
    server.post("/api/v1.0/designs", &json!({"base_design_id": 3})).await.assert_envelope(400, "base_design_id must be a string");
    let id = server.post("/api/v1.0/designs", &json!({})).await.json()["id"].as_str().expect("id").to_owned();
    let parts = format!("/api/v1.0/designs/{id}/parts");
    server.send(Call::new(Method::POST, &parts).body(b"a: 1".to_vec())).await.assert_envelope(400, "POST requires parameter 'ingester'");
    server.send(Call::new(Method::POST, &format!("{parts}?ingester=yaml"))).await.assert_envelope(400, "Empty body not supported");
    server
        .send(Call::new(Method::POST, &format!("{parts}?ingester=xml")).body(b"a: 1".to_vec()))
        .await
        .assert_envelope(400, "Unknown ingester xml");
    let bad = server.send(Call::new(Method::POST, &format!("{parts}?ingester=yaml")).body(b"a: [1, 2".to_vec())).await;
    assert_eq!(bad.status, 400);
    assert!(bad.json()["message"].as_str().is_some_and(|text| text.starts_with("Invalid YAML")));
    server.post(&parts, &json!({"href": ""})).await.assert_envelope(400, r#"The "href" key must be provided in the request body."#);
    let missing = server.post(&parts, &json!({"href": "file:///no/such.yaml"})).await;
    assert_eq!(missing.status, 400);
    server
        .get(&format!("/api/v1.0/designs/{id}?source=sideways"))
        .await
        .assert_envelope(400, "Invalid source sideways: use designed or compiled");
}

#[tokio::test]
async fn designs_are_listed_a_page_at_a_time() {
    let server = admin();
    let mut created = Vec::new();
    for _ in 0..3 {
        created.push(server.post("/api/v1.0/designs", &json!({})).await.json()["id"].as_str().expect("id").to_owned());
    }
    let all = server.get("/api/v1.0/designs").await;
    assert_eq!(all.status, 200);
    assert_eq!(all.header("x-drydock-next-marker"), None);
    let mut expected = created.clone();
    expected.sort();
    assert_eq!(all.json(), json!(expected), "upstream's shape: a list of ids (here in id order)");

    let first = server.get("/api/v1.0/designs?limit=2").await;
    let marker = first.header("x-drydock-next-marker").expect("more follow").to_owned();
    assert_eq!(first.json(), json!(expected[..2]));
    assert_eq!(marker, expected[1]);
    let rest = server.get(&format!("/api/v1.0/designs?limit=2&marker={marker}")).await;
    assert_eq!(rest.json(), json!(expected[2..]));
    assert_eq!(rest.header("x-drydock-next-marker"), None);
    server.get("/api/v1.0/designs?limit=0").await.assert_envelope(400, "limit must be a positive integer");
    server.get("/api/v1.0/designs?marker=nope").await.assert_envelope(400, "Invalid marker");
}

#[tokio::test]
async fn documents_read_back_follow_parts_added_later() {
    let server = admin();
    let id = server.post("/api/v1.0/designs", &json!({})).await.json()["id"].as_str().expect("id").to_owned();
    let parts = format!("/api/v1.0/designs/{id}/parts?ingester=yaml");
    let region = "schema: drydock/Region/v1\nmetadata:\n  schema: metadata/Document/v1\n  name: first\ndata: {}\n";
    assert_eq!(server.send(Call::new(Method::POST, &parts).body(region.as_bytes().to_vec())).await.status, 201);
    let names = |reply: serde_json::Value| -> Vec<String> {
        reply.as_array().expect("documents").iter().map(|doc| doc["metadata"]["name"].as_str().expect("name").to_owned()).collect()
    };
    let kind = format!("/api/v1.0/designs/{id}/parts/Region");
    assert_eq!(names(server.get(&kind).await.json()), ["first"]);
    assert_eq!(names(server.get(&kind).await.json()), ["first"], "read again (from the parsed documents)");

    // A part added after the documents were read is seen at once.
    let second = region.replace("first", "second");
    assert_eq!(server.send(Call::new(Method::POST, &parts).body(second.into_bytes())).await.status, 201);
    assert_eq!(names(server.get(&kind).await.json()), ["first", "second"]);
    assert_eq!(server.get(&format!("{kind}/second")).await.status, 200);
}
