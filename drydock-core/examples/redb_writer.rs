//! Test helper for the redb crash-safety test: creates tasks in the store at
//! the path given as the first argument and prints `acked <task id>` after
//! each write has committed, until it is killed.
//!
//! Run: `cargo run -p drydock-core --example redb_writer -- /tmp/x.redb`

use std::io::Write;

use drydock_core::store::StateStore;
use drydock_core::store::redb_store::RedbStore;
use drydock_core::task::{Action, StatusMessage, Task};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: redb_writer <file>")?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        let store = RedbStore::open(&path)?;
        let mut stdout = std::io::stdout();
        loop {
            let task = store.task_create(&Task::new(Action::Noop, None)).await?;
            store.result_message_add(task.id, &StatusMessage::task_wide("written", false)).await?;
            writeln!(stdout, "acked {}", task.id)?;
            stdout.flush()?;
        }
    })
}
