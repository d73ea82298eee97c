//! Criterion benches of rendering site repositories (issue 21), in
//! process: reading, rendering and evaluating the largest treasuremap site
//! (seaworthy), and a generated repository of 10,000 nodes in three layers
//! (benches/src/repository.rs). `benches/render.sh` measures the whole
//! commands with their peak memory.

use criterion::{Criterion, criterion_group, criterion_main};
use drydock_benches::{generated_site, peak_mib, repository, shared_dir};
use drydock_core::ingest::repo::{SiteFiles, read_site};
use drydock_core::ingest::source::ReferencePolicy;
use drydock_core::render::site::render_site;
use drydock_core::validate::{ValidationOptions, evaluate_site};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn files(root: &std::path::Path, site: &str) -> SiteFiles {
    let reference = drydock_core::ids::DesignRef(format!("{}?site={site}", root.display()));
    read_site(root, site, &reference, &ReferencePolicy::default(), 512 << 20).expect("the site reads")
}

fn render(c: &mut Criterion) {
    let treasuremap = shared_dir().join("corpus/treasuremap-v1.9");
    let seaworthy = files(&treasuremap, "seaworthy");
    let repo = tempfile::tempdir().expect("tempdir");
    repository::write_repository(&generated_site(10_000, 250, 42), repo.path());
    let synthetic = files(repo.path(), repository::SITE);
    let options = ValidationOptions::default();

    let mut group = c.benchmark_group("render");
    group.sample_size(10);
    for (name, files) in [("seaworthy", &seaworthy), ("synthetic_10000", &synthetic)] {
        group.bench_function(format!("{name}/render"), |b| {
            b.iter(|| render_site(files, &Default::default(), &Default::default()).expect("renders"))
        });
        group.bench_function(format!("{name}/render_validate"), |b| {
            b.iter(|| {
                let evaluation = evaluate_site(files, &options).expect("evaluates");
                assert!(evaluation.report.error_count == 0);
                evaluation
            })
        });
    }
    group.finish();
    eprintln!("peak RSS of the bench process: {} MiB", peak_mib());
}

criterion_group!(benches, render);
criterion_main!(benches);
