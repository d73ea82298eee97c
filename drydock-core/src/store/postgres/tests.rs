//! PostgreSQL store tests against a real server: the conformance suite, an
//! outage (server stopped and started mid-run), bad URLs and passwords, a
//! database at a newer schema, a database the original created, and a full
//! disk (SQLSTATE 53100 is `Full`) with the writability probe.
//!
//! They need `DRYDOCK_TEST_PG` (scripts/setup/postgres.sh starts a server
//! and sets it); without it they are skipped, except under `CI=true`,
//! where a missing server is a failure. Each test gets its own database,
//! dropped when the test passes and kept for inspection when it fails.

use std::sync::Arc;
use std::time::Duration;

use super::{PostgresOptions, PostgresStore};
use crate::store::{StateStore, StoreErrorKind};

/// The outage test stops the shared server: it takes this lock exclusively,
/// every other test shares it.
static SERVER: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

fn server_url() -> Option<String> {
    match std::env::var("DRYDOCK_TEST_PG") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "DRYDOCK_TEST_PG must be set in CI (scripts/setup/postgres.sh)");
            eprintln!("skipped: set DRYDOCK_TEST_PG (scripts/setup/postgres.sh starts a server) to run the PostgreSQL store tests");
            None
        }
    }
}

/// A fresh database on the test server.
struct TestDatabase {
    admin: String,
    name: String,
    url: String,
    passed: bool,
}

impl TestDatabase {
    async fn create(admin: &str) -> TestDatabase {
        let name = format!("drydock_test_{}", uuid::Uuid::new_v4().simple());
        let (client, connection) = tokio_postgres::connect(admin, tokio_postgres::NoTls).await.expect("connect to the test server");
        tokio::spawn(connection);
        client.batch_execute(&format!("CREATE DATABASE {name}")).await.expect("create database");
        let url = match admin.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{name}"),
            None => panic!("DRYDOCK_TEST_PG must end in /<database>"),
        };
        TestDatabase { admin: admin.to_owned(), name, url, passed: false }
    }

    async fn finish(mut self) {
        self.passed = true;
        if let Ok((client, connection)) = tokio_postgres::connect(&self.admin, tokio_postgres::NoTls).await {
            tokio::spawn(connection);
            let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)).await;
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if !self.passed {
            eprintln!("kept test database {} for inspection", self.name);
        }
    }
}

#[tokio::test]
async fn postgres_store_conforms() {
    let Some(admin) = server_url() else { return };
    let _shared = SERVER.read().await;
    let database = TestDatabase::create(&admin).await;
    let store = PostgresStore::connect(&database.url, PostgresOptions::default()).await.expect("connect");
    // Connecting again applies nothing and succeeds (replicas start in any order).
    PostgresStore::connect(&database.url, PostgresOptions::default()).await.expect("second replica");
    crate::store::conformance::run_all(Arc::new(store)).await;
    database.finish().await;
}

#[tokio::test]
async fn outage_gives_unavailable_then_recovers() {
    let Some(admin) = server_url() else { return };
    let _exclusive = SERVER.write().await;
    let (Ok(stop), Ok(start)) = (std::env::var("DRYDOCK_TEST_PG_STOP"), std::env::var("DRYDOCK_TEST_PG_START")) else {
        eprintln!("skipped: DRYDOCK_TEST_PG_STOP/START not set (only the throwaway server can be stopped)");
        return;
    };
    let database = TestDatabase::create(&admin).await;
    let options = PostgresOptions { connect_timeout: Duration::from_secs(2), ..PostgresOptions::default() };
    let store = PostgresStore::connect(&database.url, options).await.expect("connect");
    store.ping().await.expect("up");
    let quiet = |command: &str| {
        let mut child = tokio::process::Command::new("sh");
        child.arg("-c").arg(command).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
        child
    };
    let status = quiet(&stop).status().await.expect("stop server");
    assert!(status.success());
    let error = store.ping().await.expect_err("server is down");
    let restarted = quiet(&start).status().await.expect("start server");
    assert!(restarted.success(), "restart the shared test server");
    assert_eq!(error.kind(), StoreErrorKind::Unavailable, "{error}");
    let mut recovered = false;
    for _ in 0..40 {
        if store.ping().await.is_ok() {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(recovered, "the pool reconnects once the server is back");
    database.finish().await;
}

#[tokio::test]
async fn bad_urls_passwords_and_newer_schemas_fail_clearly() {
    let Some(admin) = server_url() else { return };
    let _shared = SERVER.read().await;
    let options = PostgresOptions { connect_timeout: Duration::from_secs(2), ..PostgresOptions::default() };

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let error = PostgresStore::connect(&format!("postgres://postgres:x@127.0.0.1:{port}/postgres"), options.clone())
        .await
        .expect_err("nothing listens");
    assert_eq!(error.kind(), StoreErrorKind::Unavailable, "{error}");
    assert!(error.to_string().contains(&format!("127.0.0.1:{port}")), "{error}");

    let error = PostgresStore::connect("not a url at all", options.clone()).await.expect_err("garbage");
    assert!(error.to_string().contains("invalid PostgreSQL URL"), "{error}");

    let wrong = match admin.split_once('@') {
        Some((credentials, rest)) if credentials.contains(':') => {
            let user = credentials.rsplit_once(':').map(|(user, _)| user).unwrap_or(credentials);
            format!("{user}:definitely-wrong@{rest}")
        }
        _ => String::new(),
    };
    if !wrong.is_empty() {
        let error = PostgresStore::connect(&wrong, options.clone()).await.expect_err("wrong password");
        assert_eq!(error.kind(), StoreErrorKind::Corrupt, "{error}");
        assert!(error.to_string().contains("refused the credentials"), "{error}");
        assert!(!error.to_string().contains("definitely-wrong"), "the password never appears: {error}");
    }

    let database = TestDatabase::create(&admin).await;
    let store = PostgresStore::connect(&database.url, options.clone()).await.expect("connect");
    let client = store.client().await.expect("client");
    client.execute("INSERT INTO drydock_schema_migrations (version, description) VALUES (99, 'from the future')", &[]).await.expect("bump");
    drop(client);
    let error = PostgresStore::connect(&database.url, options).await.expect_err("newer schema");
    assert_eq!(error.kind(), StoreErrorKind::Corrupt);
    assert!(error.to_string().contains("schema version 99, newer than this Drydock"), "{error}");
    database.finish().await;
}

#[tokio::test]
async fn a_database_the_original_created_is_recognised() {
    let Some(admin) = server_url() else { return };
    let _shared = SERVER.read().await;
    let database = TestDatabase::create(&admin).await;
    {
        let (client, connection) = tokio_postgres::connect(&database.url, tokio_postgres::NoTls).await.expect("connect");
        tokio::spawn(connection);
        for migration in &super::migrations::MIGRATIONS[..3] {
            client.batch_execute(migration.sql).await.expect("original schema");
        }
        client
            .execute(
                "INSERT INTO tasks (task_id, status, action, created, result_status) VALUES ($1, 'complete', 'noop', timezone('UTC', now()), 'success')",
                &[&uuid::Uuid::new_v4().as_bytes().as_slice()],
            )
            .await
            .expect("a task the original wrote");
    }
    let store = PostgresStore::connect(&database.url, PostgresOptions::default()).await.expect("adopts the original's database");
    let page = store.task_list(&crate::store::TaskQuery::default()).await.expect("list");
    assert_eq!(page.tasks.len(), 1);
    assert_eq!(page.tasks[0].status, crate::task::TaskStatus::Complete);
    database.finish().await;
}

#[tokio::test]
async fn a_full_disk_is_full_and_the_probe_writes_one_row() {
    let Some(admin) = server_url() else { return };
    let _shared = SERVER.read().await;
    let database = TestDatabase::create(&admin).await;
    let store = PostgresStore::connect(&database.url, PostgresOptions::default()).await.expect("connect");
    // What PostgreSQL answers when it cannot extend a file (SQLSTATE 53100).
    let client = store.client().await.expect("client");
    let error = client
        .batch_execute("DO $$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full'; END $$")
        .await
        .expect_err("disk_full");
    let error = store.err(error);
    assert_eq!(error.kind(), StoreErrorKind::Full, "{error}");
    assert!(error.is_transient(), "{error}");
    assert!(error.to_string().contains("No space left"), "{error}");
    for _ in 0..3 {
        store.check_writable().await.expect("writable");
    }
    let rows: i64 = client.query_one("SELECT count(*) FROM drydock_probe", &[]).await.expect("count").get(0);
    assert_eq!(rows, 1, "the probe rewrites one row");
    drop(client);
    database.finish().await;
}

/// Two replicas on one database: a task queued through one, and a
/// termination requested through it, are events at the other's
/// subscription within a second (`LISTEN`/`NOTIFY`); a task created but not
/// queued is not; the memory store has no events (in-process wake-ups).
#[tokio::test]
async fn a_task_queued_on_one_replica_is_an_event_on_another() {
    use crate::store::UpdateGuard;
    use crate::task::{Action, Task, TaskStatus};
    let Some(admin) = server_url() else { return };
    let _shared = SERVER.read().await;
    let database = TestDatabase::create(&admin).await;
    let writer = PostgresStore::connect(&database.url, PostgresOptions::default()).await.expect("connect");
    let reader = PostgresStore::connect(&database.url, PostgresOptions::default()).await.expect("second replica");
    assert!(crate::store::memory::MemoryStore::new().task_events().is_none());
    let mut events = reader.task_events().expect("PostgreSQL has task events");
    let within = Duration::from_secs(1);
    // The first change says the listener is listening.
    tokio::time::timeout(Duration::from_secs(10), events.changed()).await.expect("listening").expect("open");

    let created = writer.task_create(&Task::new(Action::VerifySite, None)).await.expect("create");
    assert!(tokio::time::timeout(Duration::from_millis(300), events.changed()).await.is_err(), "a requested task is no event");
    let mut queued = created.clone();
    queued.status = TaskStatus::Queued;
    writer.task_update(&queued, UpdateGuard::Generation(created.generation)).await.expect("queue");
    tokio::time::timeout(within, events.changed()).await.expect("queued: an event within a second").expect("open");

    let mut direct = Task::new(Action::VerifySite, None);
    direct.status = TaskStatus::Queued;
    writer.task_create(&direct).await.expect("create queued");
    tokio::time::timeout(within, events.changed()).await.expect("created queued: an event within a second").expect("open");

    writer.task_mark_terminate(created.id, "operator", true).await.expect("terminate");
    tokio::time::timeout(within, events.changed()).await.expect("terminate: an event within a second").expect("open");
    drop(events);
    drop(reader);
    database.finish().await;
}
