//! What a deployed machine's cloud-init does with its user data, for labs
//! that run boot actions (`drydock-sim --boot-root DIR`): each machine gets
//! its own directory `DIR/<hostname>/` standing in for its root file system.
//!
//! When a deployment finishes, the machine "boots": a `#cloud-config` user
//! data's `write_files` are written under that directory (with their
//! `permissions`, `encoding: b64` decoded) and its `runcmd` entries run with
//! `sh` in it; a user data starting with `#!` is run as a script. The
//! commands see `DRYDOCK_BOOTACTION_ROOT` set to the machine's directory and
//! a stub `systemctl` first on `PATH` that records its arguments in
//! `.sim/systemctl.log`. Everything they print goes to
//! `var/log/cloud-init-output.log`, and the outcome to `.sim/boot.json`.
//! `packages` are recorded, not installed.

use base64::Engine as _;
use serde_json::json;
use std::io::Write as _;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use yaml_rust2::{Yaml, YamlLoader};

/// `errno` for "text file busy".
const ETXTBSY: i32 = 26;

/// What a machine's boot does, parsed from its user data.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BootPlan {
    /// Files to write: path (absolute, on the machine), mode, contents.
    pub files: Vec<(String, u32, Vec<u8>)>,
    /// Commands to run, in order: argv (a single string runs under `sh -c`).
    pub commands: Vec<Vec<String>>,
    /// Packages the user data asks for (recorded only).
    pub packages: Vec<String>,
}

/// Errors reading a user data.
#[derive(Debug, thiserror::Error)]
pub enum BootError {
    /// The `#cloud-config` is not YAML or has the wrong shape.
    #[error("user data: {0}")]
    UserData(String),
    /// Writing a file or starting a command failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

fn text(yaml: &Yaml) -> Option<String> {
    match yaml {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Parses a user data into what the boot does.
pub fn plan(user_data: &str) -> Result<BootPlan, BootError> {
    if user_data.starts_with("#!") {
        return Ok(BootPlan {
            files: vec![("/var/lib/cloud/instance/user-data.sh".into(), 0o700, user_data.as_bytes().to_vec())],
            commands: vec![vec!["/var/lib/cloud/instance/user-data.sh".into()]],
            packages: vec![],
        });
    }
    if !user_data.starts_with("#cloud-config") {
        return Err(BootError::UserData("neither #cloud-config nor a #! script".into()));
    }
    let docs = YamlLoader::load_from_str(user_data).map_err(|e| BootError::UserData(e.to_string()))?;
    let Some(doc) = docs.first() else {
        return Ok(BootPlan::default());
    };
    let mut out = BootPlan::default();
    if let Some(packages) = doc["packages"].as_vec() {
        out.packages = packages.iter().filter_map(text).collect();
    }
    if let Some(files) = doc["write_files"].as_vec() {
        for file in files {
            let path = text(&file["path"]).ok_or_else(|| BootError::UserData("write_files entry without a path".into()))?;
            let content = text(&file["content"]).unwrap_or_default();
            let bytes = match text(&file["encoding"]).as_deref() {
                Some("b64" | "base64") => base64::engine::general_purpose::STANDARD
                    .decode(content.trim())
                    .map_err(|e| BootError::UserData(format!("{path}: bad base64: {e}")))?,
                _ => content.into_bytes(),
            };
            let mode = text(&file["permissions"]).and_then(|p| u32::from_str_radix(p.trim_start_matches("0o"), 8).ok()).unwrap_or(0o644);
            out.files.push((path, mode, bytes));
        }
    }
    if let Some(commands) = doc["runcmd"].as_vec() {
        for command in commands {
            match command {
                Yaml::Array(argv) => out.commands.push(argv.iter().filter_map(text).collect()),
                other => out.commands.extend(text(other).map(|line| vec!["sh".into(), "-c".into(), line])),
            }
        }
    }
    Ok(out)
}

/// `path` (absolute on the machine) inside the machine's directory; `..`
/// cannot leave it.
fn inside(root: &Path, path: &str) -> PathBuf {
    let mut out = root.to_path_buf();
    for component in Path::new(path).components() {
        if let Component::Normal(part) = component {
            out.push(part);
        }
    }
    out
}

fn write_file(path: &Path, mode: u32, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, bytes)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// Boots `hostname` in `root/<hostname>`: applies the plan, runs the
/// commands, writes `.sim/boot.json`. Blocking; returns whether every
/// command succeeded.
pub fn boot(root: &Path, hostname: &str, user_data: &str) -> Result<bool, BootError> {
    let machine = root.join(hostname.replace(['/', '\0'], "_"));
    let sim = machine.join(".sim");
    std::fs::create_dir_all(sim.join("bin"))?;
    let log_path = sim.join("systemctl.log");
    write_file(
        &sim.join("bin/systemctl"),
        0o755,
        format!("#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\n", log_path.display().to_string().replace('\'', r"'\''")).as_bytes(),
    )?;
    let plan = plan(user_data)?;
    for (path, mode, bytes) in &plan.files {
        write_file(&inside(&machine, path), *mode, bytes)?;
    }
    let output_path = inside(&machine, "/var/log/cloud-init-output.log");
    write_file(&output_path, 0o644, b"")?;
    let mut output = std::fs::OpenOptions::new().append(true).open(&output_path)?;
    let path_env = format!("{}:{}", sim.join("bin").display(), std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()));
    let mut results = Vec::new();
    for argv in &plan.commands {
        let Some((program, args)) = argv.split_first() else { continue };
        // An absolute program the user data wrote lives in the machine's directory.
        let local = inside(&machine, program);
        let program = if program.starts_with('/') && local.exists() { local.display().to_string() } else { program.clone() };
        writeln!(output, "+ {}", argv.join(" "))?;
        let run = || -> std::io::Result<std::process::ExitStatus> {
            Command::new(&program)
                .args(args)
                .current_dir(&machine)
                .env("PATH", &path_env)
                .env("DRYDOCK_BOOTACTION_ROOT", &machine)
                .stdin(Stdio::null())
                .stdout(output.try_clone()?)
                .stderr(output.try_clone()?)
                .status()
        };
        // A script written a moment ago can be briefly "busy" (ETXTBSY):
        // another thread's child, forked while the file was open for
        // writing, holds that descriptor until it execs. Try again shortly.
        let mut status = run();
        for _ in 0..50 {
            match &status {
                Err(error) if error.raw_os_error() == Some(ETXTBSY) => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    status = run();
                }
                _ => break,
            }
        }
        let code = match status {
            Ok(status) => status.code().unwrap_or(-1),
            Err(error) => {
                writeln!(output, "cannot run {program}: {error}")?;
                127
            }
        };
        results.push(json!({"command": argv, "exit_code": code}));
    }
    let ok = results.iter().all(|r| r["exit_code"] == 0);
    let record = json!({"hostname": hostname, "packages": plan.packages, "files": plan.files.len(), "commands": results, "ok": ok});
    std::fs::write(sim.join("boot.json"), format!("{record:#}\n"))?;
    Ok(ok)
}

/// Boots a machine on a background thread (the simulator's lock is never
/// held while commands run); failures are logged.
pub fn spawn(root: PathBuf, hostname: String, user_data: String) {
    let spawned = std::thread::Builder::new().name(format!("boot-{hostname}")).spawn(move || match boot(&root, &hostname, &user_data) {
        Ok(true) => tracing::info!(%hostname, "machine booted; its user data ran"),
        Ok(false) => tracing::warn!(%hostname, "machine booted; a user-data command failed"),
        Err(error) => tracing::warn!(%hostname, %error, "machine boot failed"),
    });
    if let Err(error) = spawned {
        tracing::warn!(%error, "cannot start a boot thread");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloud_config_files_and_commands_run_inside_the_machine_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let script = base64::engine::general_purpose::STANDARD
            .encode("#!/bin/sh\ncat \"$DRYDOCK_BOOTACTION_ROOT/etc/key\" > \"$DRYDOCK_BOOTACTION_ROOT/out\"\nsystemctl enable x\n");
        let user_data = format!(
            "#cloud-config\npackages:\n- \"curl\"\nwrite_files:\n- path: /etc/key\n  permissions: '0600'\n  content: abc\n\
             - path: /usr/local/bin/run\n  permissions: '0755'\n  encoding: b64\n  content: {script}\nruncmd:\n- [\"/usr/local/bin/run\"]\n- echo done\n"
        );
        assert!(boot(dir.path(), "n1", &user_data).expect("boots"));
        let machine = dir.path().join("n1");
        assert_eq!(std::fs::read_to_string(machine.join("out")).expect("out"), "abc");
        assert_eq!(std::fs::read_to_string(machine.join(".sim/systemctl.log")).expect("log"), "enable x\n");
        let record: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(machine.join(".sim/boot.json")).expect("record")).expect("json");
        assert_eq!(record["packages"], json!(["curl"]));
        assert_eq!(record["ok"], true);
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(machine.join("etc/key")).expect("key").permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn a_script_busy_for_a_moment_still_runs() {
        // Another process holding the fresh script open for writing (as a
        // child forked by another thread does until it execs) makes exec fail
        // with ETXTBSY; the boot waits it out.
        let dir = tempfile::tempdir().expect("tempdir");
        let script_path = dir.path().join("n1/usr/local/bin/run");
        std::fs::create_dir_all(script_path.parent().expect("parent")).expect("mkdir");
        let holder = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&script_path).expect("hold the script");
        let release = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(200));
            drop(holder);
        });
        let script = base64::engine::general_purpose::STANDARD.encode("#!/bin/sh\nexit 0\n");
        let user_data = format!(
            "#cloud-config\nwrite_files:\n- path: /usr/local/bin/run\n  permissions: '0755'\n  encoding: b64\n  content: {script}\nruncmd:\n- [\"/usr/local/bin/run\"]\n"
        );
        assert!(boot(dir.path(), "n1", &user_data).expect("boots"), "the script ran once it was free");
        release.join().expect("released");
    }

    #[test]
    fn a_failing_command_is_reported_and_paths_cannot_escape() {
        let dir = tempfile::tempdir().expect("tempdir");
        let user_data = "#cloud-config\nwrite_files:\n- path: /../../escape\n  content: x\nruncmd:\n- exit 3\n";
        assert!(!boot(dir.path(), "n2", user_data).expect("boots"));
        assert!(dir.path().join("n2/escape").exists());
        assert!(plan("not cloud-config").is_err());
        assert!(plan("#cloud-config\nwrite_files: [{content: x}]\n").is_err());
    }
}
