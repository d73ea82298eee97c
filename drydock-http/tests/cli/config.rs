//! `drydock config sample` and `drydock serve --config FILE`: the sample
//! covers every serve option, and file values sit below the command line and
//! the environment.

use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn drydock() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_drydock"));
    command.env_remove("DRYDOCK_STORE").env_remove("DRYDOCK_LISTEN").env("NO_COLOR", "1");
    command
}

fn config(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().expect("file");
    std::fs::write(file.path(), text).expect("write");
    file
}

#[test]
fn sample_lists_every_serve_option_with_its_default() {
    let output = drydock().args(["config", "sample"]).output().expect("runs");
    assert_eq!(output.status.code(), Some(0));
    let sample = String::from_utf8_lossy(&output.stdout);
    let help = drydock().args(["serve", "--help"]).output().expect("runs");
    let help = String::from_utf8_lossy(&help.stdout);
    for long in help.lines().filter_map(|line| line.split_whitespace().find(|word| word.starts_with("--"))) {
        let key = long.trim_start_matches("--").trim_end_matches(',');
        if ["help", "config", "print-openapi"].contains(&key) {
            continue;
        }
        assert!(sample.contains(&format!("\n#{key} = ")), "{key} in the sample:\n{sample}");
    }
    assert!(sample.contains("\n#listen = \"0.0.0.0:9000\"\n"), "{sample}");
    assert!(sample.contains("\n#request-timeout = 600\n"), "{sample}");
}

#[test]
fn file_values_apply_below_flags_and_environment() {
    let bad_store = config("store = \"mysql://x\"\nauth = \"noauth\"\nno-orchestrator = true\n");
    let path = bad_store.path().display().to_string();
    let applied = drydock().args(["serve", "--config", &path]).output().expect("runs");
    assert_eq!(applied.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&applied.stderr).contains("unknown store \"mysql://x\""));

    let unknown = config("listen = \"127.0.0.1:1\"\nfly = true\n");
    let output = drydock().args(["serve", "--config", &unknown.path().display().to_string()]).output().expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown key \"fly\""));
    let missing = drydock().args(["serve", "--config", "/no/such.toml"]).output().expect("runs");
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read the configuration /no/such.toml"));

    // The flag and then the environment override the file's store; the
    // file's listen address is used.
    for via_env in [false, true] {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port();
        let file = config(&format!("{}listen = \"127.0.0.1:{port}\"\n", std::fs::read_to_string(bad_store.path()).expect("read")));
        let mut command = drydock();
        command.args(["serve", "--config", &file.path().display().to_string()]);
        if via_env {
            command.env("DRYDOCK_STORE", "memory");
        } else {
            command.args(["--store", "memory"]);
        }
        let mut child = command.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut listening = false;
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                listening = true;
                break;
            }
            if child.try_wait().expect("wait").is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        assert!(listening, "serve listens on the file's address (store from {})", if via_env { "env" } else { "flag" });
    }
}
