//! Criterion benches of the design path on `gen_site.py` sites: ingest +
//! compile, and validation alone, at N = 100, 1000, 10000 nodes (R = N/40
//! racks, seed 42), plus 1000 nodes over 1000 racks (route domains, the
//! original's quadratic case). Compare with shared/spec/baseline.md.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use drydock_benches::generated_site;
use drydock_core::compile::compile;
use drydock_core::ingest::Ingester;
use drydock_core::validate::{ValidationOptions, validate};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SIZES: [(usize, usize); 4] = [(100, 4), (1000, 25), (10000, 250), (1000, 1000)];

fn design_path(c: &mut Criterion) {
    let ingester = Ingester::new();
    let mut group = c.benchmark_group("ingest_compile");
    group.sample_size(10);
    for (nodes, racks) in SIZES {
        let text = generated_site(nodes, racks, 42);
        group.throughput(Throughput::Elements(nodes as u64));
        group.bench_with_input(BenchmarkId::new(format!("racks{racks}"), nodes), &text, |b, text| {
            b.iter(|| {
                let ingested = ingester.ingest_str(text, None).expect("ingests");
                compile(ingested.design).expect("compiles")
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("validate");
    group.sample_size(10);
    let options = ValidationOptions::default();
    for (nodes, racks) in SIZES {
        let text = generated_site(nodes, racks, 42);
        let site = compile(ingester.ingest_str(&text, None).expect("ingests").design).expect("compiles");
        group.throughput(Throughput::Elements(nodes as u64));
        group.bench_with_input(BenchmarkId::new(format!("racks{racks}"), nodes), &site, |b, site| b.iter(|| validate(site, &options)));
    }
    group.finish();
}

criterion_group!(benches, design_path);
criterion_main!(benches);
