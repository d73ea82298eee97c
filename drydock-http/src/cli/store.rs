//! `drydock store check PATH`: check a redb store file without serving it —
//! every page's checksum (repairing what redb can, as `drydock serve` does
//! at start), the schema version, every task record — and exit 0 (sound, or
//! repaired), 1 (corrupt: restore it from a backup) or 2 (cannot be opened:
//! missing, in use by a running server, unreadable). `--output json` prints
//! one object for scripts.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use drydock_core::store::StoreErrorKind;
use drydock_core::store::redb_store::{CheckReport, Integrity, RedbStore};
use serde_json::json;

use super::output::{OutputFormat, Style};

/// `drydock store …`
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Check a redb store file (stop the server using it first).
    Check(CheckArgs),
}

/// Arguments of `drydock store check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The store file: a path, or `redb:PATH` as `drydock serve --store` takes it.
    pub path: String,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t)]
    pub output: OutputFormat,
}

/// What the check found, as printed and as an exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// 0 sound or repaired, 1 corrupt, 2 cannot be opened.
    pub code: u8,
    /// `ok`, `repaired`, `corrupt` or `error`.
    pub status: &'static str,
    /// One line saying what was found.
    pub message: String,
    /// What the file holds, when it could be read.
    pub report: Option<CheckReport>,
}

/// Check the store file `spec` (a path or `redb:PATH`).
pub fn check(spec: &str) -> Outcome {
    if spec.starts_with("postgres://") || spec.starts_with("postgresql://") || spec == "memory" {
        return Outcome {
            code: 2,
            status: "error",
            message: format!("{spec:?} is not a redb file: only redb stores can be checked (PostgreSQL has its own tools)"),
            report: None,
        };
    }
    let path = PathBuf::from(spec.strip_prefix("redb:").unwrap_or(spec));
    match RedbStore::check(&path) {
        Ok(report) => {
            let contents = format!(
                "schema {}; {} tasks, {} messages, {} designs, {} build-data records, {} boot actions",
                report.schema_version, report.tasks, report.messages, report.designs, report.build_data, report.boot_actions
            );
            let (status, message) = match report.integrity {
                Integrity::Repaired => {
                    ("repaired", format!("{}: damage found and repaired, the most recent writes may be lost; {contents}", path.display()))
                }
                Integrity::Clean | Integrity::Created => ("ok", format!("{}: every page verified; {contents}", path.display())),
            };
            Outcome { code: 0, status, message, report: Some(report) }
        }
        Err(error) if error.kind() == StoreErrorKind::Corrupt => {
            Outcome { code: 1, status: "corrupt", message: error.to_string(), report: None }
        }
        Err(error) => Outcome { code: 2, status: "error", message: error.to_string(), report: None },
    }
}

fn json_body(path: &Path, outcome: &Outcome) -> serde_json::Value {
    let mut body = json!({"path": path.display().to_string(), "status": outcome.status, "message": outcome.message});
    if let (Some(report), Some(map)) = (&outcome.report, body.as_object_mut()) {
        map.insert("schema_version".into(), report.schema_version.into());
        map.insert("tasks".into(), report.tasks.into());
        map.insert("messages".into(), report.messages.into());
        map.insert("designs".into(), report.designs.into());
        map.insert("build_data".into(), report.build_data.into());
        map.insert("boot_actions".into(), report.boot_actions.into());
    }
    body
}

/// Run `drydock store`.
pub fn run(command: StoreCommand) -> ExitCode {
    let StoreCommand::Check(args) = command;
    let outcome = check(&args.path);
    match args.output {
        OutputFormat::Json => {
            let path = PathBuf::from(args.path.strip_prefix("redb:").unwrap_or(&args.path));
            outln!("{}", json_body(&path, &outcome));
        }
        OutputFormat::Yaml => {
            let path = PathBuf::from(args.path.strip_prefix("redb:").unwrap_or(&args.path));
            out!("{}", super::client::to_yaml(&json_body(&path, &outcome)));
        }
        OutputFormat::Text => {
            let (stdout, stderr) = (Style::stdout(), Style::stderr());
            match outcome.status {
                "ok" => outln!("{} {}", stdout.success("ok:"), outcome.message),
                "repaired" => outln!("{} {}", stdout.warning("repaired:"), outcome.message),
                "corrupt" => outln!("{} {}", stdout.error("corrupt:"), outcome.message),
                _ => eprintln!("{} {}", stderr.error("error:"), outcome.message),
            }
        }
    }
    ExitCode::from(outcome.code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sound_corrupt_and_unopenable_files_exit_0_1_2() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("drydock.redb");
        {
            let store = RedbStore::open(&path).expect("create");
            use drydock_core::store::StateStore;
            store.task_create(&drydock_core::task::Task::new(drydock_core::task::Action::Noop, None)).await.expect("task");
        }
        let sound = check(&format!("redb:{}", path.display()));
        assert_eq!((sound.code, sound.status), (0, "ok"), "{}", sound.message);
        assert_eq!(sound.report.as_ref().map(|report| report.tasks), Some(1));
        let body = json_body(&path, &sound);
        assert_eq!(body["status"], "ok");
        assert_eq!(body["tasks"], 1);

        let empty = dir.path().join("empty.redb");
        std::fs::write(&empty, b"").expect("empty");
        let corrupt = check(&empty.display().to_string());
        assert_eq!((corrupt.code, corrupt.status), (1, "corrupt"), "{}", corrupt.message);
        assert!(corrupt.message.contains("empty.redb"), "{}", corrupt.message);

        let missing = check(&dir.path().join("missing.redb").display().to_string());
        assert_eq!((missing.code, missing.status), (2, "error"), "{}", missing.message);
        assert!(!dir.path().join("missing.redb").exists(), "the check never creates a store");

        let in_use = RedbStore::open(&path).expect("served");
        let busy = check(&path.display().to_string());
        assert_eq!(busy.code, 2, "{}", busy.message);
        assert!(busy.message.contains("in use"), "{}", busy.message);
        drop(in_use);

        assert_eq!(check("postgresql://db/drydock").code, 2);
    }
}
