//! Validate a site design file and print the findings.
//!
//! Run: `cargo run -p drydock-examples --example validate_site -- examples/site.yaml`

fn main() {}
