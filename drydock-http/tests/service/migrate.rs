//! `drydock db migrate` (the db-sync job): brings a fresh PostgreSQL
//! database to the current schema, is a no-op the second time, takes the
//! store from the original's drydock.conf, names an unreachable database
//! without its password, and refuses embedded stores.

use std::process::{Command, Output};

fn drydock_db(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_drydock"))
        .args(["db", "migrate"])
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("DRYDOCK_STORE")
        .output()
        .expect("drydock db migrate runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The test server's admin URL (scripts/setup/postgres.sh), required in CI.
fn server_url() -> Option<String> {
    match std::env::var("DRYDOCK_TEST_PG") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "DRYDOCK_TEST_PG must be set in CI (scripts/setup/postgres.sh)");
            eprintln!("skipped: set DRYDOCK_TEST_PG (scripts/setup/postgres.sh starts a server) to run the db migrate test");
            None
        }
    }
}

async fn admin(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.expect("connect to the test server");
    tokio::spawn(connection);
    client
}

#[tokio::test]
async fn a_fresh_database_is_migrated_once() {
    let Some(admin_url) = server_url() else { return };
    let name = format!("drydock_migrate_{}", uuid::Uuid::new_v4().simple());
    let url = match admin_url.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => panic!("DRYDOCK_TEST_PG must end in /<database>"),
    };
    admin(&admin_url).await.batch_execute(&format!("CREATE DATABASE {name}")).await.expect("create database");

    // As the chart's job runs it: the original's drydock.conf.
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("drydock.conf");
    let sqlalchemy = url.replacen("postgres://", "postgresql+psycopg2://", 1);
    std::fs::write(&conf, format!("[database]\ndatabase_connect_string = {sqlalchemy}\n")).expect("drydock.conf");
    let first = tokio::task::spawn_blocking(move || drydock_db(&["--config-file", &conf.display().to_string()])).await.expect("join");
    let stdout = text(&first.stdout);
    assert!(first.status.success(), "{stdout}{}", text(&first.stderr));
    let version: i32 = {
        let client = admin(&url).await;
        let row = client.query_one("SELECT max(version) FROM drydock_schema_migrations", &[]).await.expect("migrations table");
        let tasks: bool = client.query_one("SELECT to_regclass('tasks') IS NOT NULL", &[]).await.expect("query").get(0);
        assert!(tasks, "the tasks table was created");
        row.get(0)
    };
    assert!(version >= 1, "{version}");
    assert!(stdout.contains(&format!("migrated from schema version 0 to {version}")), "{stdout}");
    assert!(stdout.contains(&format!("/{name}")) && !stdout.contains("drydock-test@"), "names the target only: {stdout}");

    let again_url = url.clone();
    let second = tokio::task::spawn_blocking(move || drydock_db(&["--store", &again_url])).await.expect("join");
    let stdout = text(&second.stdout);
    assert!(second.status.success(), "{stdout}{}", text(&second.stderr));
    assert!(stdout.contains(&format!("schema version {version} is current, nothing to apply")), "{stdout}");

    admin(&admin_url).await.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.expect("drop database");
}

#[test]
fn an_unreachable_database_fails_without_showing_the_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("drydock.toml");
    std::fs::write(&config, format!("store = \"postgresql://drydock:s3cret-pw@127.0.0.1:{port}/drydock\"\n")).expect("config");
    let output = drydock_db(&["--config", &config.display().to_string(), "--connect-timeout", "3s"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("127.0.0.1:{port}/drydock")), "{stderr}");
    assert!(!stderr.contains("s3cret-pw") && !text(&output.stdout).contains("s3cret-pw"), "{stderr}");
}

#[test]
fn embedded_stores_and_a_missing_store_are_usage_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.redb");
    let output = drydock_db(&["--store", &format!("redb:{}", path.display())]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("only PostgreSQL stores"), "{}", text(&output.stderr));
    assert!(!path.exists(), "nothing is created");
    let output = drydock_db(&[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("no store given"), "{}", text(&output.stderr));
}
