//! The redb store when its file or its disk goes wrong: a full disk (a small
//! tmpfs filled until writes fail: `Full`, then writes succeed again once
//! space is freed, without reopening the store from outside), flipped bits
//! (refused at open and by `RedbStore::check` with what to do), and paths
//! that exist but hold no store (an empty file, garbage, a directory, a
//! FIFO, another program's redb file), which are refused and never
//! initialised over.
//!
//! The full-disk test mounts a tmpfs, which needs root: elsewhere it is
//! skipped with a message, except under `CI=true`, where it fails.

use std::path::{Path, PathBuf};
use std::process::Command;

use drydock_core::ids::DesignRef;
use drydock_core::store::redb_store::{Integrity, RedbStore};
use drydock_core::store::{StateStore, StoreErrorKind};
use drydock_core::task::{Action, Task, TaskStatus};

fn task_with(payload: &str) -> Task {
    let mut task = Task::new(Action::DeployNodes, Some(DesignRef("file:///site.yaml".into())));
    task.status = TaskStatus::Complete;
    task.result.message = Some(payload.to_owned());
    task
}

/// A tmpfs of `size` mounted on a fresh directory, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().expect("tempdir");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map(|output| if output.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&output.stderr).into_owned()) })
            .unwrap_or_else(|error| Err(error.to_string()));
        match mounted {
            Ok(()) => Some(Tmpfs { dir }),
            Err(why) => {
                assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true: cannot mount a tmpfs for the full-disk test: {why}");
                eprintln!("skipped: cannot mount a tmpfs (needs root): {}", why.trim());
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[tokio::test]
async fn a_full_disk_fails_writes_with_full_and_they_succeed_again_once_space_is_freed() {
    let Some(tmpfs) = Tmpfs::mount("4m") else { return };
    let store = RedbStore::open(tmpfs.path().join("drydock.redb")).expect("create the store");
    let first = store.task_create(&task_with("before the disk filled")).await.expect("a write with room");
    // Leave well under a megabyte free, then write until a write fails.
    let filler = tmpfs.path().join("filler");
    std::fs::write(&filler, vec![0x5a; 3 * 1024 * 1024]).expect("filler");
    let payload = "p".repeat(32 * 1024);
    let mut written = Vec::new();
    let error = loop {
        match store.task_create(&task_with(&payload)).await {
            Ok(task) => written.push(task.id),
            Err(error) => break error,
        }
        assert!(written.len() < 500, "4 MiB hold no more than a few hundred 32 KiB tasks");
    };
    assert_eq!(error.kind(), StoreErrorKind::Full, "{error}");
    assert!(error.is_transient(), "a full disk is worth retrying once space is freed: {error}");
    assert!(error.to_string().contains("drydock.redb"), "names the file: {error}");

    // While the disk stays full, writes keep failing as Full (not as a
    // store that needs a restart), the writability probe says so, and what
    // was acknowledged can still be read.
    let again = store.task_create(&task_with(&payload)).await.expect_err("still full");
    assert_eq!(again.kind(), StoreErrorKind::Full, "{again}");
    let probe = store.check_writable().await.expect_err("the probe sees the full disk");
    assert_eq!(probe.kind(), StoreErrorKind::Full, "{probe}");
    store.ping().await.expect("reads still work");
    assert_eq!(store.task_get(first.id).await.expect("read back").id, first.id);

    // Free the space: the same store object writes again.
    std::fs::remove_file(&filler).expect("free space");
    store.check_writable().await.expect("writable again");
    let after = store.task_create(&task_with(&payload)).await.expect("writes succeed once space is freed");
    let mut ids = written.clone();
    ids.extend([first.id, after.id]);
    assert_eq!(store.task_get_many(&ids).await.expect("read back").len(), ids.len(), "nothing acknowledged was lost");
    drop(store);
    let reopened = RedbStore::open(tmpfs.path().join("drydock.redb")).expect("the file is sound after the episode");
    assert_eq!(reopened.task_get_many(&ids).await.expect("read back").len(), ids.len());
}

/// A store file with tasks, one of them carrying `marker` in its result
/// message (its bytes sit verbatim in a leaf page of the file).
async fn store_with_tasks(path: &Path, marker: &str) {
    let store = RedbStore::open(path).expect("create");
    for index in 0..40 {
        store.task_create(&task_with(&format!("filler task {index}"))).await.expect("task");
    }
    store.task_create(&task_with(marker)).await.expect("marked task");
    // Later commits, so the marked page belongs to every commit redb could
    // fall back to and a flipped bit in it cannot be repaired away.
    for index in 0..40 {
        store.task_create(&task_with(&format!("later task {index}"))).await.expect("task");
    }
}

/// Copies of `pristine` with one byte inverted, the marker's bytes first,
/// then bytes spread over the rest of the file.
fn flipped_copies(pristine: &[u8], marker: &[u8], dir: &Path) -> impl Iterator<Item = (usize, PathBuf)> {
    let mut offsets: Vec<usize> =
        pristine.windows(marker.len()).enumerate().filter(|(_, window)| *window == marker).map(|(at, _)| at + marker.len() / 2).collect();
    offsets.extend((1..16).map(|sixteenth| pristine.len() * sixteenth / 16));
    let pristine = pristine.to_vec();
    let dir = dir.to_path_buf();
    offsets.into_iter().map(move |offset| {
        let mut bytes = pristine.clone();
        bytes[offset] ^= 0xff;
        let path = dir.join(format!("flipped-{offset}.redb"));
        std::fs::write(&path, &bytes).expect("write the damaged copy");
        (offset, path)
    })
}

#[tokio::test]
async fn a_flipped_bit_is_refused_at_open_and_by_the_check_with_what_to_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let original = dir.path().join("drydock.redb");
    let marker = "MARKER-the-task-whose-page-gets-damaged";
    store_with_tasks(&original, marker).await;
    let report = RedbStore::check(&original).expect("the undamaged file checks");
    assert_eq!(report.integrity, Integrity::Clean);
    assert_eq!(report.tasks, 81);

    let pristine = std::fs::read(&original).expect("read");
    let mut refused = None;
    for (offset, copy) in flipped_copies(&pristine, marker.as_bytes(), dir.path()) {
        match RedbStore::check(&copy) {
            Err(error) => {
                assert_eq!(error.kind(), StoreErrorKind::Corrupt, "offset {offset}: {error}");
                assert!(!error.is_transient(), "{error}");
                eprintln!("offset {offset}: {error}");
                refused = Some(copy);
                break;
            }
            // A byte in a free page, or damage redb repaired: try another.
            Ok(_) => continue,
        }
    }
    let damaged = refused.expect("some flipped byte makes the check fail");
    let error = RedbStore::open(&damaged).expect_err("a damaged store is not served");
    assert_eq!(error.kind(), StoreErrorKind::Corrupt, "{error}");
    assert!(!error.is_transient());
    let message = error.to_string();
    assert!(message.contains(&damaged.display().to_string()), "names the file: {message}");
    assert!(message.contains("restore"), "says how to recover: {message}");
    assert!(message.contains("drydock store check"), "names the check: {message}");
}

#[tokio::test]
async fn paths_that_exist_but_hold_no_store_are_refused_and_left_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().join("empty.redb");
    std::fs::write(&empty, b"").expect("empty file");
    let garbage = dir.path().join("garbage.redb");
    std::fs::write(&garbage, b"these are not the pages you are looking for\n".repeat(200)).expect("garbage");
    let directory = dir.path().join("directory.redb");
    std::fs::create_dir(&directory).expect("directory");
    let foreign = dir.path().join("foreign.redb");
    {
        let db = redb::Database::create(&foreign).expect("another program's redb file");
        let txn = db.begin_write().expect("txn");
        txn.open_table(redb::TableDefinition::<&str, u64>::new("inventory")).expect("table").insert("bolts", 12).expect("row");
        txn.commit().expect("commit");
    }
    let mut cases = vec![
        (empty.clone(), "empty (0 bytes)"),
        (garbage.clone(), "garbage"),
        (directory.clone(), "directory"),
        (foreign, "no Drydock store"),
    ];
    let fifo = dir.path().join("fifo.redb");
    if Command::new("mkfifo").arg(&fifo).status().is_ok_and(|status| status.success()) {
        cases.push((fifo, "not a regular file"));
    } else {
        eprintln!("mkfifo unavailable: the FIFO case is not checked");
    }
    for (path, what) in cases {
        let before = std::fs::symlink_metadata(&path).map(|meta| meta.len()).expect("exists");
        let error = RedbStore::open(&path).expect_err(what);
        assert_eq!(error.kind(), StoreErrorKind::Corrupt, "{what}: {error}");
        assert!(error.to_string().contains(&path.display().to_string()), "{what}: names the path: {error}");
        let after = std::fs::symlink_metadata(&path).map(|meta| meta.len()).expect("still exists");
        assert_eq!(before, after, "{what}: left as it was");
        let checked = RedbStore::check(&path).expect_err(what);
        assert_eq!(checked.kind(), StoreErrorKind::Corrupt, "{what}: {checked}");
    }
    assert!(std::fs::read(&empty).expect("read").is_empty(), "an empty file is never initialised as a new store");

    // Only a path where nothing exists becomes a new store.
    let fresh = dir.path().join("fresh.redb");
    drop(RedbStore::open(&fresh).expect("created"));
    assert_eq!(RedbStore::check(&fresh).expect("checks").integrity, Integrity::Clean);
    let missing = RedbStore::check(dir.path().join("missing.redb")).expect_err("check never creates");
    assert_eq!(missing.kind(), StoreErrorKind::Unavailable, "{missing}");
    assert!(!dir.path().join("missing.redb").exists());
    let nowhere = RedbStore::open(dir.path().join("no-such-dir/drydock.redb")).expect_err("parent missing");
    assert!(nowhere.to_string().contains("no-such-dir"), "{nowhere}");
}
