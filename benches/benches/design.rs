//! Criterion benches of the design path.
fn main() {}
