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
    let options = help.lines().filter(|line| line.trim_start().starts_with('-'));
    for long in options.filter_map(|line| line.split_whitespace().find(|word| word.starts_with("--"))) {
        let key = long.trim_start_matches("--").trim_end_matches(',');
        if ["help", "config", "config-file", "print-openapi"].contains(&key) {
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

#[test]
fn the_originals_drydock_conf_is_read_below_the_toml_file() {
    let bad_database = config("[database]\ndatabase_connect_string = mysql+pymysql://drydock@db/drydock\n[logging]\nlog_level = DEBUG\n");
    let path = bad_database.path().display().to_string();
    let output = drydock().args(["serve", "--auth", "noauth", "--config-file", &path]).output().expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("{path}:2: [database] database_connect_string: only PostgreSQL databases are supported")), "{stderr}");

    // A TOML --config wins over drydock.conf; unmapped options are named, once.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port();
    let oslo = config(
        "[DEFAULT]\npoll_interval = 2\n[database]\ndatabase_connect_string = postgresql+psycopg2://nobody@127.0.0.1:1/x\n[logging]\nlog_level = DEBUG\n",
    );
    let toml = config(&format!("store = \"memory\"\nauth = \"noauth\"\nlisten = \"127.0.0.1:{port}\"\n"));
    let mut child = drydock()
        .args(["serve", "--config", &toml.path().display().to_string(), "--config-file", &oslo.path().display().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline && child.try_wait().expect("wait").is_none(), "serve listens with the TOML store");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let output = child.wait_with_output().expect("output");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.matches("with no counterpart in drydock serve (ignored): logging.log_level").count(), 1, "{stderr}");
}

#[test]
fn the_configuration_reference_is_current() {
    let output = drydock().args(["config", "reference"]).output().expect("runs");
    assert_eq!(output.status.code(), Some(0));
    let generated = String::from_utf8_lossy(&output.stdout).into_owned();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/configuration.md");
    if std::env::var_os("DRYDOCK_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &generated).expect("write docs/configuration.md");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/configuration.md is stale: run DRYDOCK_UPDATE_DOCS=1 cargo test -p drydock-http --test cli reference"
    );
    assert!(generated.contains("| `--store` | `DRYDOCK_STORE` | `redb:drydock.redb` |"), "{generated}");
    assert!(generated.contains("| `[timeouts]` | `deploy_node` | `--deploy-node-timeout` | minutes |"), "{generated}");
}
