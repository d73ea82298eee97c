//! Store benches with 100,000 tasks stored: create one task, get one, list
//! one page of 100, on redb and (when `DRYDOCK_TEST_PG` names a server, e.g.
//! from scripts/setup/postgres.sh) PostgreSQL; and a 10,000-node design
//! (8 MB) stored and loaded through the designs API.
//! Targets (issue 4): medians ≤ 2 ms on redb, ≤ 5 ms on PostgreSQL; the
//! design round trip ≤ 0.2 s.

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use drydock_benches::generated_site;
use drydock_core::ids::{DesignRef, TaskId};
use drydock_core::store::postgres::{PostgresOptions, PostgresStore};
use drydock_core::store::redb_store::RedbStore;
use drydock_core::store::{StateStore, TaskCursor, TaskQuery};
use drydock_core::task::{Action, Task, TaskStatus};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const STORED: usize = 100_000;

fn tasks() -> Vec<Task> {
    let base = chrono::Utc::now() - chrono::Duration::days(30);
    (0..STORED)
        .map(|index| {
            let mut task = Task::new(
                if index % 3 == 0 { Action::DeployNodes } else { Action::PrepareNodes },
                Some(DesignRef("file:///site.yaml".into())),
            );
            task.created = base + chrono::Duration::milliseconds(index as i64 * 10);
            task.status = TaskStatus::Complete;
            task
        })
        .collect()
}

fn bench_store(c: &mut Criterion, name: &str, runtime: &tokio::runtime::Runtime, store: Arc<dyn StateStore>) {
    let stored = tasks();
    runtime.block_on(async {
        for chunk in stored.chunks(10_000) {
            store.task_import(chunk).await.expect("import");
        }
    });
    let ids: Vec<TaskId> = stored.iter().map(|task| task.id).collect();
    let middle = &stored[STORED / 2];
    let mut group = c.benchmark_group(format!("store_{name}_100k"));
    group.sample_size(50);
    group.bench_function("task_create", |b| {
        b.to_async(runtime).iter(|| {
            let store = store.clone();
            async move { store.task_create(&Task::new(Action::Noop, None)).await.expect("create") }
        })
    });
    let mut next = 0usize;
    group.bench_function("task_get", |b| {
        b.to_async(runtime).iter(|| {
            next = (next + 7919) % ids.len();
            let store = store.clone();
            let id = ids[next];
            async move { store.task_get(id).await.expect("get") }
        })
    });
    group.bench_function("task_list_page_100", |b| {
        b.to_async(runtime).iter(|| {
            let store = store.clone();
            let query =
                TaskQuery { limit: 100, after: Some(TaskCursor { created: middle.created, id: middle.id }), ..TaskQuery::default() };
            async move {
                let page = store.task_list(&query).await.expect("list");
                assert_eq!(page.tasks.len(), 100);
                page
            }
        })
    });
    group.finish();

    let design = generated_site(10_000, 250, 42);
    let mut group = c.benchmark_group(format!("store_{name}_design"));
    group.sample_size(10);
    group.bench_function("design_10k_nodes_store_and_load", |b| {
        b.to_async(runtime).iter(|| {
            let store = store.clone();
            let design = design.as_bytes();
            async move {
                let record = store.design_create().await.expect("design");
                store.design_part_add(record.id, "bench", design).await.expect("part");
                let parts = store.design_parts(record.id).await.expect("parts");
                assert_eq!(parts[0].content.len(), design.len());
            }
        })
    });
    group.finish();
}

fn stores(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let redb = RedbStore::open(dir.path().join("bench.redb")).expect("redb");
    bench_store(c, "redb", &runtime, Arc::new(redb));

    match std::env::var("DRYDOCK_TEST_PG") {
        Ok(admin) if !admin.is_empty() => {
            let name = format!("drydock_bench_{}", uuid::Uuid::new_v4().simple());
            let url = runtime.block_on(async {
                let (client, connection) = tokio_postgres_connect(&admin).await;
                tokio::spawn(connection);
                client.batch_execute(&format!("CREATE DATABASE {name}")).await.expect("create database");
                format!("{}/{name}", admin.rsplit_once('/').map(|(base, _)| base).unwrap_or(&admin))
            });
            let store = runtime.block_on(PostgresStore::connect(&url, PostgresOptions::default())).expect("postgres");
            bench_store(c, "postgres", &runtime, Arc::new(store));
        }
        _ => eprintln!("PostgreSQL benches skipped: set DRYDOCK_TEST_PG (scripts/setup/postgres.sh)"),
    }
}

async fn tokio_postgres_connect(
    url: &str,
) -> (tokio_postgres::Client, tokio_postgres::Connection<tokio_postgres::Socket, tokio_postgres::tls::NoTlsStream>) {
    tokio_postgres::connect(url, tokio_postgres::NoTls).await.expect("connect")
}

criterion_group!(benches, stores);
criterion_main!(benches);
