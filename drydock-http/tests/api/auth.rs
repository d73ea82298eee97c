//! Authentication modes and policy: 401 vs 403 on every protected route,
//! unprotected routes without credentials, the two-stage create check,
//! policy-file overrides, and tokens never echoed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use drydock_http::server::auth::{AuthMode, KeystoneValidator, ServiceCredentials, TokenTable};
use drydock_http::server::policy::Policy;
use poem::http::Method;
use poem::web::Json;
use poem::{EndpointExt, IntoResponse, Route, handler, post};
use serde_json::json;

use crate::conformance::{assert_documented, template};
use crate::support::{Call, Harness, Setup, harness, site_ref};

const ADMIN_TOKEN: &str = "admin-token-0123456789abcdef";
const READER_TOKEN: &str = "reader-token-0123456789abcdef";

fn tokens() -> Arc<TokenTable> {
    let text = format!(
        "[[token]]\ntoken = \"{ADMIN_TOKEN}\"\nuser = \"alice\"\nroles = [\"admin\"]\nproject = \"p1\"\n\n\
         [[token]]\ntoken = \"{READER_TOKEN}\"\nuser = \"bob\"\nroles = [\"reader\"]\n"
    );
    Arc::new(TokenTable::from_toml(&text).expect("token file"))
}

fn token_server(policy: Policy) -> Harness {
    harness(Setup { auth: AuthMode::Token(tokens()), policy, ..Setup::default() })
}

/// Every protected route with a request that would otherwise succeed or
/// fail for other reasons.
fn protected() -> Vec<(Method, &'static str, Option<serde_json::Value>)> {
    vec![
        (Method::GET, "/api/v1.0/health/extended", None),
        (Method::GET, "/api/v1.0/tasks", None),
        (Method::POST, "/api/v1.0/tasks", Some(json!({"action": "verify_site", "design_ref": "file:///x"}))),
        (Method::DELETE, "/api/v1.0/tasks", None),
        (Method::GET, "/api/v1.0/tasks/0c6d0a52-5a8e-4ad1-9a8e-0f9e0d2b6b1a", None),
        (Method::GET, "/api/v1.0/tasks/0c6d0a52-5a8e-4ad1-9a8e-0f9e0d2b6b1a/builddata", None),
        (Method::GET, "/api/v1.0/nodes", None),
        (Method::GET, "/api/v1.0/nodes/n01/builddata", None),
        (Method::POST, "/api/v1.0/nodefilter", Some(json!({"design_ref": "file:///x"}))),
        (Method::POST, "/api/v1.0/validatedesign", Some(json!({"href": "file:///x"}))),
        (Method::GET, "/api/v1.0/designs", None),
        (Method::POST, "/api/v1.0/designs", None),
        (Method::GET, "/api/v1.0/designs/0c6d0a52-5a8e-4ad1-9a8e-0f9e0d2b6b1a", None),
        (Method::GET, "/api/v1.0/designs/0c6d0a52-5a8e-4ad1-9a8e-0f9e0d2b6b1a/parts", None),
        (Method::POST, "/api/v1.0/designs/0c6d0a52-5a8e-4ad1-9a8e-0f9e0d2b6b1a/parts", Some(json!({"href": "file:///x"}))),
        (Method::GET, "/api/v1.0/designs/0c6d0a52-5a8e-4ad1-9a8e-0f9e0d2b6b1a/parts/Site", None),
        (Method::GET, "/api/v1.0/designs/0c6d0a52-5a8e-4ad1-9a8e-0f9e0d2b6b1a/parts/Site/x", None),
    ]
}

fn call<'a>(method: &Method, path: &'a str, body: &Option<serde_json::Value>) -> Call<'a> {
    let call = Call::new(method.clone(), path);
    match body {
        Some(body) => call.header("content-type", "application/json").body(body.to_string().into_bytes()),
        None => call,
    }
}

#[tokio::test]
async fn token_mode_401_403_and_allowed() {
    let server = token_server(Policy::default());
    for (method, path, body) in protected() {
        let anonymous = server.send(call(&method, path, &body)).await;
        anonymous.assert_envelope(401, "Unauthenticated");
        let wrong = server.send(call(&method, path, &body).header("authorization", "Bearer not-a-known-token-at-all")).await;
        wrong.assert_envelope(401, "Unauthenticated");
        let reader = server.send(call(&method, path, &body).header("authorization", format!("Bearer {READER_TOKEN}"))).await;
        reader.assert_envelope(403, "Forbidden");
        // Each as its operation documents it (one branch of a oneOf, for
        // health and validatedesign).
        let method_name = method.as_str().to_ascii_lowercase();
        assert_documented(&method_name, template(path), 401, &anonymous.json());
        assert_documented(&method_name, template(path), 403, &reader.json());
        let admin = server.send(call(&method, path, &body).header("authorization", format!("Bearer {ADMIN_TOKEN}"))).await;
        assert!(admin.status != 401 && admin.status != 403, "{method} {path}: {}", admin.status);
        for reply in [&anonymous, &wrong, &reader, &admin] {
            let headers = format!("{:?}", reply.headers);
            assert!(!reply.body.contains("token-0123") && !headers.contains("token-0123"), "a token was echoed");
        }
    }
    // X-Auth-Token carries the same tokens for unchanged clients.
    let reply = server.send(Call::get("/api/v1.0/tasks").header("x-auth-token", ADMIN_TOKEN)).await;
    assert_eq!(reply.status, 200);
    let created = server
        .send(
            call(&Method::POST, "/api/v1.0/tasks", &Some(json!({"action": "verify_site", "design_ref": site_ref()})))
                .header("x-auth-token", ADMIN_TOKEN),
        )
        .await;
    assert_eq!(created.status, 201);
    assert_eq!(created.json()["created_by"], "alice");
}

#[tokio::test]
async fn unprotected_routes_need_no_credentials() {
    let server = token_server(Policy::default());
    assert_eq!(server.get("/versions").await.status, 200);
    assert_eq!(server.get("/api/v1.0/health").await.status, 204);
    assert_eq!(server.send(Call::new(Method::OPTIONS, "/api/v1.0/tasks")).await.status, 200);
    assert_eq!(server.get("/api/v1.0/openapi.json").await.status, 200);
}

#[tokio::test]
async fn create_checks_the_action_rule_second() {
    let policy = Policy::with_overrides(&[
        ("physical_provisioner:create_task".into(), "role:reader or role:admin".into()),
        ("physical_provisioner:verify_site".into(), "role:reader".into()),
    ]);
    let server = token_server(policy);
    let bearer = format!("Bearer {READER_TOKEN}");
    let deploy = server
        .send(
            call(&Method::POST, "/api/v1.0/tasks", &Some(json!({"action": "deploy_nodes", "design_ref": site_ref()})))
                .header("authorization", bearer.clone()),
        )
        .await;
    deploy.assert_envelope(403, "Forbidden");
    let verify = server
        .send(
            call(&Method::POST, "/api/v1.0/tasks", &Some(json!({"action": "verify_site", "design_ref": site_ref()})))
                .header("authorization", bearer.clone()),
        )
        .await;
    assert_eq!(verify.status, 201, "{}", verify.body);
    let page = server.store().task_list(&Default::default()).await.expect("list");
    assert_eq!(page.tasks.len(), 1, "the denied request created nothing");
    // An unknown action is reported after the first check passes.
    let unknown = server
        .send(
            call(&Method::POST, "/api/v1.0/tasks", &Some(json!({"action": "fly", "design_ref": site_ref()})))
                .header("authorization", bearer),
        )
        .await;
    unknown.assert_envelope(400, "Unsupported action fly");
}

#[tokio::test]
async fn policy_file_overrides_defaults() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("policy.yaml");
    std::fs::write(&path, "\"physical_provisioner:read_task\": \"@\"\n\"physical_provisioner:read_data\": \"role:reader\"\n\"physical_provisioner:health_data\": \"role:admin and (\"\n")
        .expect("write");
    let server = token_server(Policy::from_file(&path).expect("policy"));
    assert_eq!(server.get("/api/v1.0/tasks").await.status, 200, "@ allows even anonymous callers");
    let reader = format!("Bearer {READER_TOKEN}");
    let admin = format!("Bearer {ADMIN_TOKEN}");
    assert_eq!(server.send(Call::get("/api/v1.0/nodes/n1/builddata").header("authorization", reader.clone())).await.status, 403);
    assert_eq!(server.send(Call::get("/api/v1.0/nodes/n1/builddata").header("authorization", admin.clone())).await.status, 404);
    let nodes =
        server.send(Call::post_json("/api/v1.0/nodefilter", &json!({"design_ref": site_ref()})).header("authorization", reader)).await;
    assert_eq!(nodes.status, 200);
    let broken = server.send(Call::get("/api/v1.0/health/extended").header("authorization", admin)).await;
    broken.assert_envelope(403, "Forbidden");
    // The file is re-read when it changes; an unusable new file keeps the old rules.
    std::fs::write(&path, "\"physical_provisioner:read_task\": \"!\"\n").expect("write");
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    server.get("/api/v1.0/tasks").await.assert_envelope(401, "Unauthenticated");
    std::fs::write(&path, "- not a mapping\n").expect("write");
    assert!(Policy::from_file(&path).is_err());
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    server.get("/api/v1.0/tasks").await.assert_envelope(401, "Unauthenticated");
}

#[tokio::test]
async fn noauth_forges_an_admin_only_without_a_token() {
    let server = harness(Setup::default());
    assert_eq!(server.get("/api/v1.0/tasks").await.status, 200);
    let with_token = server.send(Call::get("/api/v1.0/tasks").header("x-auth-token", "anything")).await;
    with_token.assert_envelope(401, "Unauthenticated");
    let reader = harness(Setup { auth: AuthMode::NoAuth { roles: vec!["reader".into()] }, ..Setup::default() });
    reader.get("/api/v1.0/tasks").await.assert_envelope(403, "Forbidden");
}

#[tokio::test]
async fn trusted_identity_headers() {
    let server = harness(Setup { auth: AuthMode::TrustedHeaders { proxies: None }, ..Setup::default() });
    server.get("/api/v1.0/tasks").await.assert_envelope(401, "Unauthenticated");
    let confirmed = Call::get("/api/v1.0/tasks").header("x-identity-status", "Confirmed").header("x-user-name", "shipyard");
    assert_eq!(server.send(confirmed.header("x-roles", "member,admin")).await.status, 200);
    let no_roles = Call::get("/api/v1.0/tasks").header("x-identity-status", "Confirmed");
    no_roles_forbidden(&server, no_roles).await;
    let invalid = Call::get("/api/v1.0/tasks").header("x-identity-status", "Invalid").header("x-roles", "admin");
    server.send(invalid).await.assert_envelope(401, "Unauthenticated");
    // The service-token set wins when present.
    let service = Call::get("/api/v1.0/tasks")
        .header("x-identity-status", "Confirmed")
        .header("x-roles", "admin")
        .header("x-service-identity-status", "Invalid");
    server.send(service).await.assert_envelope(401, "Unauthenticated");
    let service_ok = Call::get("/api/v1.0/tasks").header("x-service-identity-status", "Confirmed").header("x-service-roles", "admin");
    assert_eq!(server.send(service_ok).await.status, 200);
}

#[tokio::test]
async fn identity_headers_only_from_trusted_proxies() {
    let proxies = Some(vec!["10.0.0.0/8".parse().expect("network")]);
    let server = harness(Setup { auth: AuthMode::TrustedHeaders { proxies }, ..Setup::default() });
    // The test client's peer is not an IP socket in 10.0.0.0/8: the headers are ignored.
    let forged = Call::get("/api/v1.0/tasks").header("x-identity-status", "Confirmed").header("x-roles", "admin");
    server.send(forged).await.assert_envelope(401, "Unauthenticated");
    let context = AuthMode::TrustedHeaders { proxies: Some(vec!["10.0.0.0/8".parse().expect("network")]) };
    let mut headers = poem::http::HeaderMap::new();
    headers.insert("x-identity-status", "Confirmed".parse().expect("value"));
    headers.insert("x-roles", "admin".parse().expect("value"));
    assert!(context.authenticate(&headers, Some("10.1.2.3".parse().expect("ip"))).await.authenticated);
    assert!(!context.authenticate(&headers, Some("192.168.1.1".parse().expect("ip"))).await.authenticated);
    assert!(!context.authenticate(&headers, None).await.authenticated);
}

async fn no_roles_forbidden(server: &Harness, call: Call<'_>) {
    server.send(call).await.assert_envelope(403, "Forbidden");
}

/// A Keystone that issues `service-token` for the service user and knows
/// `good-token` (admin) and `member-token` (member).
async fn fake_keystone(validations: Arc<AtomicUsize>) -> String {
    #[handler]
    fn issue(Json(body): Json<serde_json::Value>) -> poem::Response {
        let password = body.pointer("/auth/identity/password/user/password").and_then(|value| value.as_str());
        let project = body.pointer("/auth/scope/project").cloned().unwrap_or_default();
        let scoped = project == json!({"id": "service"}) || project == json!({"name": "service", "domain": {"name": "Default"}});
        if password != Some("service-secret") || !scoped {
            return poem::http::StatusCode::UNAUTHORIZED.into_response();
        }
        poem::Response::builder().status(poem::http::StatusCode::CREATED).header("X-Subject-Token", "service-token").body("{}")
    }
    let counter = validations.clone();
    let validate = poem::endpoint::make_sync(move |req: poem::Request| {
        counter.fetch_add(1, Ordering::SeqCst);
        if req.header("x-auth-token") != Some("service-token") {
            return poem::http::StatusCode::UNAUTHORIZED.into_response();
        }
        let role = match req.header("x-subject-token") {
            Some("good-token") => "admin",
            Some("member-token") => "member",
            _ => return poem::http::StatusCode::NOT_FOUND.into_response(),
        };
        Json(json!({"token": {
            "user": {"name": "keystone-user", "id": "u-1", "domain": {"id": "default"}},
            "project": {"id": "p-1", "domain": {"name": "Default"}},
            "roles": [{"name": role}],
        }}))
        .into_response()
    });
    let app = Route::new().at("/v3/auth/tokens", post(issue).get(validate)).boxed();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).expect("acceptor");
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(app));
    format!("http://{address}/v3")
}

#[tokio::test]
async fn a_service_user_scoped_by_project_name_validates_tokens() {
    let url = fake_keystone(Arc::new(AtomicUsize::new(0))).await;
    let scoped = |domain: &str| ServiceCredentials {
        username: "drydock".into(),
        password: drydock_core::ids::Secret::new("service-secret"),
        project: drydock_http::keystone::ProjectScope::Name { name: "service".into(), domain_name: domain.into() },
        user_domain_name: "default".into(),
    };
    // A service user Keystone refuses cannot validate anything: 401, as with Keystone down.
    for (domain, status) in [("Default", 200), ("Elsewhere", 401)] {
        let validator = KeystoneValidator::new(&url, scoped(domain), Duration::from_secs(300)).expect("validator");
        let server = harness(Setup { auth: AuthMode::Keystone(Arc::new(validator)), ..Setup::default() });
        let answer = server.send(Call::get("/api/v1.0/tasks").header("x-auth-token", "good-token")).await;
        assert_eq!(answer.status, status, "project domain {domain}");
    }
}

#[tokio::test]
async fn keystone_validates_and_caches_tokens() {
    let validations = Arc::new(AtomicUsize::new(0));
    let url = fake_keystone(validations.clone()).await;
    let service = ServiceCredentials {
        username: "drydock".into(),
        password: drydock_core::ids::Secret::new("service-secret"),
        project: drydock_http::keystone::ProjectScope::Id("service".into()),
        user_domain_name: "default".into(),
    };
    let validator = KeystoneValidator::new(&url, service, Duration::from_secs(300)).expect("validator");
    let server = harness(Setup { auth: AuthMode::Keystone(Arc::new(validator)), ..Setup::default() });
    server.get("/api/v1.0/tasks").await.assert_envelope(401, "Unauthenticated");
    assert_eq!(validations.load(Ordering::SeqCst), 0, "no token, no Keystone call");
    for _ in 0..3 {
        assert_eq!(server.send(Call::get("/api/v1.0/tasks").header("x-auth-token", "good-token")).await.status, 200);
    }
    assert_eq!(validations.load(Ordering::SeqCst), 1, "validation results are cached");
    server.send(Call::get("/api/v1.0/tasks").header("x-auth-token", "member-token")).await.assert_envelope(403, "Forbidden");
    server.send(Call::get("/api/v1.0/tasks").header("x-auth-token", "forged-token")).await.assert_envelope(401, "Unauthenticated");
    assert_eq!(server.get("/api/v1.0/health").await.status, 204);
    // A service token's identity applies exclusively.
    let service = Call::get("/api/v1.0/tasks").header("x-auth-token", "member-token").header("x-service-token", "good-token");
    assert_eq!(server.send(service).await.status, 200);
    let forged = Call::get("/api/v1.0/tasks").header("x-auth-token", "good-token").header("x-service-token", "forged-token");
    server.send(forged).await.assert_envelope(401, "Unauthenticated");
}

#[tokio::test]
async fn keystone_down_means_unauthenticated() {
    let service = ServiceCredentials {
        username: "drydock".into(),
        password: drydock_core::ids::Secret::new("service-secret"),
        project: drydock_http::keystone::ProjectScope::Id("service".into()),
        user_domain_name: "default".into(),
    };
    let validator = KeystoneValidator::new("http://127.0.0.1:9/v3", service, Duration::from_secs(300)).expect("validator");
    let server = harness(Setup { auth: AuthMode::Keystone(Arc::new(validator)), ..Setup::default() });
    server.send(Call::get("/api/v1.0/tasks").header("x-auth-token", "good-token")).await.assert_envelope(401, "Unauthenticated");
}
