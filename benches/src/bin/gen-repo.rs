//! Write a three-layer Pegleg repository made from a generated site (see
//! `drydock_benches::repository`) for benches/render.sh.
//!
//! `cargo run --release -p drydock-benches --bin gen-repo -- NODES RACKS SEED DIR`

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [nodes, racks, seed, dir] = &args[..] else {
        eprintln!("usage: gen-repo NODES RACKS SEED DIR");
        std::process::exit(2);
    };
    let number = |text: &str| -> u64 {
        text.parse().unwrap_or_else(|_| {
            eprintln!("gen-repo: {text} is not a number");
            std::process::exit(2)
        })
    };
    let text = drydock_benches::generated_site(number(nodes) as usize, number(racks) as usize, number(seed));
    let root = std::path::Path::new(dir);
    if root.exists() {
        std::fs::remove_dir_all(root).unwrap_or_else(|error| {
            eprintln!("gen-repo: cannot clear {dir}: {error}");
            std::process::exit(1)
        });
    }
    drydock_benches::repository::write_repository(&text, root);
    println!("wrote {dir} (site {})", drydock_benches::repository::SITE);
}
