//! Helpers shared by the orchestrator integration tests (`tests/maas`,
//! `tests/libvirt`, `tests/promenade.rs`), included by each as `mod common`.

use std::sync::Arc;

use drydock_core::store::StateStore;
use drydock_core::task::Task;

/// The messages of a task and all its subtasks, as `context: message`.
pub(crate) async fn messages(store: &Arc<dyn StateStore>, task: &Task) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending = vec![task.id];
    while let Some(id) = pending.pop() {
        for message in store.result_messages(id).await.expect("messages") {
            out.push(format!("{}: {}", message.context, message.message));
        }
        pending.extend(store.task_children(id).await.expect("children").into_iter().map(|child| child.id));
    }
    out
}
