//! The `drydock` binary: parses the command line and hands over to `drydock_http::cli`.

fn main() {
    println!("drydock");
}
