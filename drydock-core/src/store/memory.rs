//! An in-memory [`StateStore`] for tests and for one-off runs: every method
//! holds one mutex for its whole duration, so each is atomic.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::lease::lease_end;
use super::{
    Admitted, Decide, ParentFilter, PurgeCandidate, PurgeReport, RunningTask, StateStore, StoreError, StoreResult, TaskLease, TaskPage,
    TaskQuery, TaskWithMessages, UpdateGuard, apply_update, check_bootaction_begin, latest_per_generator, purge_plan,
};
use crate::ids::{BootActionId, TaskId};
use crate::task::records::{BootActionContext, BootActionStatus, BuildData, DesignPart, DesignRecord};
use crate::task::{ActionResult, StatusMessage, Task, TaskStatus};

#[derive(Default)]
struct State {
    tasks: HashMap<TaskId, Task>,
    order: BTreeSet<(DateTime<Utc>, TaskId)>,
    messages: HashMap<TaskId, Vec<StatusMessage>>,
    build_data: Vec<BuildData>,
    contexts: HashMap<String, BootActionContext>,
    statuses: BTreeMap<BootActionId, BootActionStatus>,
    statuses_by_node: HashMap<String, Vec<BootActionId>>,
    designs: HashMap<TaskId, DesignRecord>,
    parts: HashMap<TaskId, Vec<DesignPart>>,
    leases: HashMap<TaskId, TaskLease>,
}

/// The in-memory store.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    /// Behaves as a store shared by several processes (not exclusive).
    shared: bool,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryStore")
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// An empty store that behaves as one shared by several processes:
    /// [`StateStore::exclusive`] is false, so a task lease lapses only when
    /// its holder stops renewing it (tests of lease expiry and takeover).
    pub fn new_shared() -> Self {
        MemoryStore { shared: true, ..MemoryStore::default() }
    }

    fn lock(&self) -> StoreResult<std::sync::MutexGuard<'_, State>> {
        // A poisoned lock means a panic while holding it; the data may be
        // half-written, which is what Corrupt says.
        self.state.lock().map_err(|_| StoreError::Corrupt { detail: "in-memory store lock poisoned".into() })
    }
}

impl State {
    /// The running top-level tasks with their leases, oldest first, after
    /// leasing those without one to nobody and dropping the leases of tasks
    /// no longer running (`task_admit`'s first step, under the lock).
    fn running_roots(&mut self, lease: std::time::Duration) -> Vec<RunningTask> {
        let mut running = Vec::new();
        for (_, id) in &self.order {
            let Some(task) = self.tasks.get(id) else { continue };
            if task.status != TaskStatus::Running || task.parent.is_some() {
                continue;
            }
            let held = self.leases.entry(*id).or_insert_with(|| TaskLease {
                holder: None,
                expires: lease_end(task.updated.unwrap_or(task.created), lease),
                claim: String::new(),
            });
            running.push(RunningTask { id: *id, action: task.action, lease: held.clone() });
        }
        let tasks = &self.tasks;
        self.leases.retain(|id, _| tasks.get(id).is_some_and(|task| task.status == TaskStatus::Running && task.parent.is_none()));
        running
    }

    /// One page of the listing (`task_list`'s work, under the lock).
    fn page(&self, query: &TaskQuery) -> TaskPage<&Task> {
        let limit = query.limit.max(1);
        let start = match query.after {
            Some(cursor) => std::ops::Bound::Excluded((cursor.created, cursor.id)),
            None => std::ops::Bound::Unbounded,
        };
        let mut tasks = Vec::new();
        let mut more = false;
        for (_, id) in self.order.range((start, std::ops::Bound::Unbounded)) {
            let Some(task) = self.tasks.get(id) else { continue };
            if !query.matches(task) {
                continue;
            }
            if tasks.len() == limit {
                more = true;
                break;
            }
            tasks.push(task);
        }
        let next = if more { tasks.last().map(|task| super::TaskCursor { created: task.created, id: task.id }) } else { None };
        TaskPage { tasks, next }
    }

    fn with_messages(&self, task: &Task) -> TaskWithMessages {
        TaskWithMessages { task: task.clone(), messages: self.messages.get(&task.id).cloned().unwrap_or_default() }
    }
}

fn task_not_found(id: TaskId) -> StoreError {
    StoreError::not_found(format!("task {id}"))
}

#[async_trait]
impl StateStore for MemoryStore {
    fn backend_name(&self) -> &'static str {
        "memory"
    }

    async fn now(&self) -> StoreResult<DateTime<Utc>> {
        Ok(Utc::now())
    }

    async fn ping(&self) -> StoreResult<()> {
        self.lock().map(|_| ())
    }

    fn exclusive(&self) -> bool {
        !self.shared
    }

    async fn design_create(&self) -> StoreResult<DesignRecord> {
        let record = DesignRecord { id: TaskId::generate(), created: Utc::now(), part_count: 0 };
        let mut state = self.lock()?;
        state.designs.insert(record.id, record.clone());
        state.parts.insert(record.id, Vec::new());
        Ok(record)
    }

    async fn design_get(&self, id: TaskId) -> StoreResult<DesignRecord> {
        self.lock()?.designs.get(&id).cloned().ok_or_else(|| StoreError::not_found(format!("design {id}")))
    }

    async fn design_part_add(&self, id: TaskId, source: &str, content: &[u8]) -> StoreResult<DesignPart> {
        let mut state = self.lock()?;
        let state = &mut *state;
        let design = state.designs.get_mut(&id).ok_or_else(|| StoreError::not_found(format!("design {id}")))?;
        let parts = state.parts.entry(id).or_default();
        let part = DesignPart {
            design_id: id,
            sequence: parts.len() as u32,
            source: source.to_owned(),
            content: content.to_vec(),
            added: Utc::now(),
        };
        parts.push(part.clone());
        design.part_count = parts.len();
        Ok(part)
    }

    async fn design_parts(&self, id: TaskId) -> StoreResult<Vec<DesignPart>> {
        let state = self.lock()?;
        if !state.designs.contains_key(&id) {
            return Err(StoreError::not_found(format!("design {id}")));
        }
        Ok(state.parts.get(&id).cloned().unwrap_or_default())
    }

    async fn design_list(&self, after: Option<TaskId>, limit: usize) -> StoreResult<Vec<DesignRecord>> {
        let state = self.lock()?;
        let mut designs: Vec<&DesignRecord> = state.designs.values().filter(|design| after.is_none_or(|after| design.id > after)).collect();
        designs.sort_unstable_by_key(|design| design.id);
        Ok(designs.into_iter().take(limit).cloned().collect())
    }

    async fn task_create(&self, task: &Task) -> StoreResult<Task> {
        let mut state = self.lock()?;
        if state.tasks.contains_key(&task.id) {
            return Err(StoreError::conflict(format!("task {} already exists", task.id)));
        }
        let mut stored = task.clone();
        stored.generation = 1;
        state.order.insert((stored.created, stored.id));
        state.tasks.insert(stored.id, stored.clone());
        Ok(stored)
    }

    async fn task_import(&self, tasks: &[Task]) -> StoreResult<()> {
        let mut state = self.lock()?;
        if let Some(existing) = tasks.iter().find(|task| state.tasks.contains_key(&task.id)) {
            return Err(StoreError::conflict(format!("task {} already exists", existing.id)));
        }
        for task in tasks {
            let mut stored = task.clone();
            stored.generation = 1;
            state.order.insert((stored.created, stored.id));
            state.tasks.insert(stored.id, stored);
        }
        Ok(())
    }

    async fn task_get(&self, id: TaskId) -> StoreResult<Task> {
        self.lock()?.tasks.get(&id).cloned().ok_or_else(|| task_not_found(id))
    }

    async fn task_get_many(&self, ids: &[TaskId]) -> StoreResult<Vec<Task>> {
        let state = self.lock()?;
        Ok(ids.iter().filter_map(|id| state.tasks.get(id).cloned()).collect())
    }

    async fn task_list(&self, query: &TaskQuery) -> StoreResult<TaskPage> {
        let state = self.lock()?;
        let page = state.page(query);
        Ok(TaskPage { tasks: page.tasks.into_iter().cloned().collect(), next: page.next })
    }

    async fn task_list_with_messages(&self, query: &TaskQuery) -> StoreResult<TaskPage<TaskWithMessages>> {
        let state = self.lock()?;
        let page = state.page(query);
        Ok(TaskPage { tasks: page.tasks.into_iter().map(|task| state.with_messages(task)).collect(), next: page.next })
    }

    async fn task_get_many_with_messages(&self, ids: &[TaskId]) -> StoreResult<Vec<TaskWithMessages>> {
        let state = self.lock()?;
        Ok(ids.iter().filter_map(|id| state.tasks.get(id)).map(|task| state.with_messages(task)).collect())
    }

    async fn task_children(&self, id: TaskId) -> StoreResult<Vec<Task>> {
        let query = TaskQuery { parent: ParentFilter::Of(id), limit: usize::MAX, ..TaskQuery::default() };
        let state = self.lock()?;
        Ok(state.order.iter().filter_map(|(_, task_id)| state.tasks.get(task_id)).filter(|task| query.matches(task)).cloned().collect())
    }

    async fn task_update(&self, task: &Task, guard: UpdateGuard) -> StoreResult<Task> {
        let mut state = self.lock()?;
        let stored = state.tasks.get_mut(&task.id).ok_or_else(|| task_not_found(task.id))?;
        apply_update(stored, task, guard, Utc::now())?;
        Ok(stored.clone())
    }

    async fn task_add_subtask(&self, parent: TaskId, child: TaskId) -> StoreResult<()> {
        let mut state = self.lock()?;
        if !state.tasks.contains_key(&child) {
            return Err(task_not_found(child));
        }
        let parent_task = state.tasks.get_mut(&parent).ok_or_else(|| task_not_found(parent))?;
        if parent_task.status == TaskStatus::Terminating {
            return Err(StoreError::conflict(format!("task {parent} is terminating")));
        }
        if !parent_task.subtasks.contains(&child) {
            parent_task.subtasks.push(child);
            parent_task.generation += 1;
        }
        if let Some(child_task) = state.tasks.get_mut(&child) {
            child_task.parent = Some(parent);
            child_task.generation += 1;
        }
        Ok(())
    }

    async fn task_mark_terminate(&self, id: TaskId, by: &str, propagate: bool) -> StoreResult<()> {
        let mut state = self.lock()?;
        if !state.tasks.contains_key(&id) {
            return Err(task_not_found(id));
        }
        let now = Utc::now();
        let mut pending = vec![id];
        let mut seen = BTreeSet::new();
        while let Some(next) = pending.pop() {
            if !seen.insert(next) {
                continue;
            }
            if let Some(task) = state.tasks.get_mut(&next) {
                crate::task::aggregate::request_termination(task, by, now);
                task.generation += 1;
                if propagate {
                    pending.extend(task.subtasks.iter().copied());
                }
            }
        }
        Ok(())
    }

    async fn task_purge(&self, cutoff: DateTime<Utc>) -> StoreResult<PurgeReport> {
        let mut state = self.lock()?;
        let candidates: Vec<PurgeCandidate> = state
            .tasks
            .values()
            .map(|task| PurgeCandidate { id: task.id, parent: task.parent, status: task.status, created: task.created })
            .collect();
        let mut report = PurgeReport::default();
        for id in purge_plan(&candidates, cutoff) {
            if let Some(task) = state.tasks.remove(&id) {
                state.order.remove(&(task.created, task.id));
                report.tasks += 1;
            }
        }
        let gone: Vec<TaskId> = state.messages.keys().filter(|id| !state.tasks.contains_key(id)).copied().collect();
        for id in gone {
            report.messages += state.messages.remove(&id).map(|messages| messages.len()).unwrap_or(0);
        }
        Ok(report)
    }

    async fn result_message_add(&self, task: TaskId, message: &StatusMessage) -> StoreResult<()> {
        let mut state = self.lock()?;
        let mut stored = message.clone();
        stored.message = message.stored_text();
        state.messages.entry(task).or_default().push(stored);
        Ok(())
    }

    async fn result_messages(&self, task: TaskId) -> StoreResult<Vec<StatusMessage>> {
        Ok(self.lock()?.messages.get(&task).cloned().unwrap_or_default())
    }

    async fn build_data_insert(&self, record: &BuildData) -> StoreResult<()> {
        self.lock()?.build_data.push(record.clone());
        Ok(())
    }

    async fn build_data_for_node(&self, node: &str, latest: bool) -> StoreResult<Vec<BuildData>> {
        let records: Vec<BuildData> = self.lock()?.build_data.iter().filter(|record| record.node_name == node).cloned().collect();
        Ok(if latest { latest_per_generator(records) } else { records })
    }

    async fn build_data_for_task(&self, task: TaskId) -> StoreResult<Vec<BuildData>> {
        Ok(self.lock()?.build_data.iter().filter(|record| record.task_id == task).cloned().collect())
    }

    async fn bootaction_context_upsert(&self, context: &BootActionContext) -> StoreResult<()> {
        self.lock()?.contexts.insert(context.node_name.clone(), context.clone());
        Ok(())
    }

    async fn bootaction_context(&self, node: &str) -> StoreResult<Option<BootActionContext>> {
        Ok(self.lock()?.contexts.get(node).cloned())
    }

    async fn bootaction_begin(&self, context: &BootActionContext, statuses: &[BootActionStatus]) -> StoreResult<()> {
        check_bootaction_begin(context, statuses)?;
        let mut state = self.lock()?;
        let state = &mut *state;
        let node = context.node_name.as_str();
        let earlier: Vec<BootActionId> = state
            .statuses_by_node
            .get(node)
            .into_iter()
            .flatten()
            .filter(|id| state.statuses.get(id).is_some_and(|row| row.task_id == context.task_id))
            .copied()
            .collect();
        // Checked before anything changes, so a refusal leaves no trace.
        if let Some(taken) =
            statuses.iter().find(|status| state.statuses.contains_key(&status.action_id) && !earlier.contains(&status.action_id))
        {
            return Err(StoreError::conflict(format!("boot action {} already exists", taken.action_id)));
        }
        for id in &earlier {
            state.statuses.remove(id);
        }
        let by_node = state.statuses_by_node.entry(node.to_owned()).or_default();
        by_node.retain(|id| !earlier.contains(id));
        for status in statuses {
            state.statuses.insert(status.action_id, status.clone());
            by_node.push(status.action_id);
        }
        state.contexts.insert(node.to_owned(), context.clone());
        Ok(())
    }

    async fn bootaction_status_insert(&self, status: &BootActionStatus) -> StoreResult<()> {
        let mut state = self.lock()?;
        if state.statuses.contains_key(&status.action_id) {
            return Err(StoreError::conflict(format!("boot action {} already exists", status.action_id)));
        }
        state.statuses.insert(status.action_id, status.clone());
        state.statuses_by_node.entry(status.node_name.clone()).or_default().push(status.action_id);
        Ok(())
    }

    async fn bootaction_status_get(&self, action_id: BootActionId) -> StoreResult<BootActionStatus> {
        self.lock()?.statuses.get(&action_id).cloned().ok_or_else(|| StoreError::not_found(format!("boot action {action_id}")))
    }

    async fn bootaction_status_for_node(&self, node: &str) -> StoreResult<Vec<BootActionStatus>> {
        let state = self.lock()?;
        let mut ids = state.statuses_by_node.get(node).cloned().unwrap_or_default();
        ids.sort();
        Ok(ids.iter().filter_map(|id| state.statuses.get(id)).cloned().collect())
    }

    async fn bootaction_status_update(&self, action_id: BootActionId, status: ActionResult) -> StoreResult<BootActionStatus> {
        let mut state = self.lock()?;
        let record = state.statuses.get_mut(&action_id).ok_or_else(|| StoreError::not_found(format!("boot action {action_id}")))?;
        if record.is_final() {
            return Err(StoreError::conflict(format!("boot action {action_id} already reported {}", record.action_status)));
        }
        record.action_status = status;
        Ok(record.clone())
    }

    async fn task_admit(&self, me: uuid::Uuid, lease: std::time::Duration, decide: Decide) -> StoreResult<Admitted> {
        let mut state = self.lock()?;
        let now = Utc::now();
        let running = state.running_roots(lease);
        let decision = decide(now, &running);
        let mut admitted = Admitted::default();
        for start in decision.start {
            let Some(task) = state.tasks.get_mut(&start.id) else { continue };
            if task.status != TaskStatus::Queued || task.generation != start.generation {
                continue;
            }
            task.status = TaskStatus::Running;
            task.updated = Some(now);
            task.generation += 1;
            admitted.started.push(task.clone());
            state.leases.insert(start.id, TaskLease { holder: Some(me), expires: lease_end(now, lease), claim: start.claim });
        }
        for take in decision.take_over {
            if state.leases.get(&take.id) != Some(&take.seen) {
                continue;
            }
            let Some(task) = state.tasks.get(&take.id) else { continue };
            admitted.taken_over.push(task.clone());
            state.leases.insert(take.id, TaskLease { holder: Some(me), expires: lease_end(now, lease), claim: take.claim });
        }
        Ok(admitted)
    }

    async fn task_lease_renew(&self, me: uuid::Uuid, tasks: &[TaskId], lease: std::time::Duration) -> StoreResult<Vec<TaskId>> {
        let mut state = self.lock()?;
        let expires = lease_end(Utc::now(), lease);
        let mut renewed = Vec::new();
        for id in tasks {
            if let Some(held) = state.leases.get_mut(id)
                && held.holder == Some(me)
            {
                held.expires = expires;
                renewed.push(*id);
            }
        }
        Ok(renewed)
    }

    async fn task_lease_release(&self, me: uuid::Uuid, tasks: &[TaskId]) -> StoreResult<()> {
        let mut state = self.lock()?;
        for id in tasks {
            if let Some(held) = state.leases.get_mut(id)
                && held.holder == Some(me)
            {
                held.holder = None;
                held.expires = DateTime::<Utc>::UNIX_EPOCH;
            }
        }
        Ok(())
    }

    async fn task_leases(&self) -> StoreResult<Vec<RunningTask>> {
        let state = self.lock()?;
        let mut out = Vec::new();
        for (_, id) in &state.order {
            if let (Some(task), Some(lease)) = (state.tasks.get(id), state.leases.get(id))
                && task.status == TaskStatus::Running
                && task.parent.is_none()
            {
                out.push(RunningTask { id: *id, action: task.action, lease: lease.clone() });
            }
        }
        Ok(out)
    }
}
