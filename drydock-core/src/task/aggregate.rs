//! Pulling sub-task outcomes into a parent (compat: api spec §2.7) and the
//! retry and termination rules (§2.8, §2.9), as pure functions over tasks
//! the caller has read from the store.

use chrono::{DateTime, Utc};

use super::{Action, ActionResult, StatusMessage, Task};

/// `bubble_results`: rebuild the parent's successes and failures from its
/// finished sub-tasks. Successes come from sub-tasks matching `action`
/// (all when `None`); failures from every finished sub-task whose retry
/// number matches the parent's (or the parent's is 0).
pub fn bubble_results(parent: &mut Task, subtasks: &[Task], action: Option<Action>) {
    parent.result.successes.clear();
    parent.result.failures.clear();
    let finished = || subtasks.iter().filter(|child| child.parent == Some(parent.id) && child.status.is_finished());
    for child in finished().filter(|child| action.is_none_or(|wanted| child.action == wanted)) {
        for name in &child.result.successes {
            push(&mut parent.result.successes, name);
        }
    }
    let retry = parent.retry;
    for child in finished().filter(|child| retry == 0 || child.retry == retry) {
        for name in &child.result.failures {
            push(&mut parent.result.failures, name);
        }
    }
}

/// `align_result`: recompute the parent's result status from its finished
/// sub-tasks (those matching `action`, when given). The reset wipes any
/// outcome the parent recorded on itself, as upstream.
pub fn align_result(parent: &mut Task, subtasks: &[Task], action: Option<Action>) {
    let has_subtasks = subtasks.iter().any(|child| child.parent == Some(parent.id)) || !parent.subtasks.is_empty();
    parent.result.status = if has_subtasks { ActionResult::Incomplete } else { ActionResult::Success };
    let retry = parent.retry;
    for child in subtasks
        .iter()
        .filter(|child| child.parent == Some(parent.id) && child.status.is_finished() && action.is_none_or(|wanted| child.action == wanted))
    {
        if matches!(child.result.status, ActionResult::Success | ActionResult::PartialSuccess) {
            parent.result.success(None);
        }
        if matches!(child.result.status, ActionResult::Failure | ActionResult::PartialSuccess) && (retry == 0 || child.retry == retry) {
            parent.result.failure(None);
        }
    }
}

fn push(list: &mut Vec<String>, name: &str) {
    if !list.iter().any(|existing| existing == name) {
        list.push(name.to_owned());
    }
}

/// What [`retry_task`] decided.
#[derive(Debug, Clone, PartialEq)]
pub enum RetryDecision {
    /// Nothing to retry (success, or no failures).
    NoRetry,
    /// Run again on the failed entities; record this message.
    Retry(StatusMessage),
    /// Out of attempts; record this message.
    Exhausted(StatusMessage),
}

/// `retry_task(max_attempts)` (compat §2.8): bump the retry number and reset
/// the result when there are failures to retry.
pub fn retry_task(task: &mut Task, max_attempts: Option<u32>) -> RetryDecision {
    if task.result.status == ActionResult::Success || task.result.failures.is_empty() {
        return RetryDecision::NoRetry;
    }
    if max_attempts.is_none_or(|max| task.retry < max) {
        task.retry += 1;
        task.result.status = if task.result.successes.is_empty() { ActionResult::Incomplete } else { ActionResult::Success };
        RetryDecision::Retry(StatusMessage::task_wide("Retrying task for failed entities.", false))
    } else {
        RetryDecision::Exhausted(StatusMessage::task_wide("Retry requested, out of attempts.", false))
    }
}

/// Mark `task` for termination (compat §2.9); the store propagates to sub-tasks.
pub fn request_termination(task: &mut Task, by: &str, now: DateTime<Utc>) {
    task.terminate = true;
    task.terminated = Some(now);
    task.terminated_by = Some(by.to_owned());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::TaskStatus;

    fn child(parent: &Task, status: TaskStatus, result: ActionResult, successes: &[&str], failures: &[&str], retry: u32) -> Task {
        let mut task = parent.child(Action::DeployNode);
        task.status = status;
        task.result.status = result;
        task.result.successes = successes.iter().map(|s| s.to_string()).collect();
        task.result.failures = failures.iter().map(|s| s.to_string()).collect();
        task.retry = retry;
        task
    }

    #[test]
    fn mixed_children_give_partial_success_and_both_lists() {
        let mut parent = Task::new(Action::DeployNodes, None);
        let children = vec![
            child(&parent, TaskStatus::Complete, ActionResult::Success, &["n1"], &[], 0),
            child(&parent, TaskStatus::Complete, ActionResult::Failure, &[], &["n2"], 0),
            child(&parent, TaskStatus::Complete, ActionResult::PartialSuccess, &["n3"], &["n1"], 0),
            child(&parent, TaskStatus::Running, ActionResult::Failure, &[], &["n9"], 0),
        ];
        parent.subtasks = children.iter().map(|c| c.id).collect();
        parent.result.failure(Some("wiped"));
        bubble_results(&mut parent, &children, None);
        align_result(&mut parent, &children, None);
        assert_eq!(parent.result.status, ActionResult::PartialSuccess);
        assert_eq!(parent.result.successes, ["n1", "n3"]);
        assert_eq!(parent.result.failures, ["n2", "n1"], "a node can be in both lists; running children are ignored");
    }

    #[test]
    fn no_children_is_success_and_unfinished_children_stay_incomplete() {
        let mut parent = Task::new(Action::PrepareSite, None);
        align_result(&mut parent, &[], None);
        assert_eq!(parent.result.status, ActionResult::Success);
        let running = vec![child(&parent, TaskStatus::Running, ActionResult::Incomplete, &[], &[], 0)];
        parent.subtasks = vec![running[0].id];
        align_result(&mut parent, &running, None);
        assert_eq!(parent.result.status, ActionResult::Incomplete);
    }

    #[test]
    fn retried_failures_only_count_at_the_current_retry() {
        let mut parent = Task::new(Action::DeployNode, None);
        parent.retry = 1;
        let children = vec![
            child(&parent, TaskStatus::Complete, ActionResult::Failure, &[], &["n1"], 0),
            child(&parent, TaskStatus::Complete, ActionResult::Success, &["n1"], &[], 1),
        ];
        parent.subtasks = children.iter().map(|c| c.id).collect();
        bubble_results(&mut parent, &children, None);
        align_result(&mut parent, &children, None);
        assert_eq!(parent.result.status, ActionResult::Success);
        assert_eq!(parent.result.successes, ["n1"]);
        assert!(parent.result.failures.is_empty());
    }

    #[test]
    fn action_filter_limits_successes_but_not_failures() {
        let mut parent = Task::new(Action::PrepareNodes, None);
        let mut other = child(&parent, TaskStatus::Complete, ActionResult::Failure, &["x"], &["n5"], 0);
        other.action = Action::PowerCycleNode;
        let children = vec![child(&parent, TaskStatus::Complete, ActionResult::Success, &["n1"], &[], 0), other];
        bubble_results(&mut parent, &children, Some(Action::DeployNode));
        assert_eq!(parent.result.successes, ["n1"]);
        assert_eq!(parent.result.failures, ["n5"]);
    }

    #[test]
    fn retry_rules() {
        let mut task = Task::new(Action::ConfigureHardware, None);
        assert_eq!(retry_task(&mut task, Some(3)), RetryDecision::NoRetry);
        task.result.failure(Some("n1"));
        task.result.successes.push("n2".into());
        assert!(matches!(retry_task(&mut task, Some(1)), RetryDecision::Retry(_)));
        assert_eq!((task.retry, task.result.status), (1, ActionResult::Success));
        task.result.failure(None);
        match retry_task(&mut task, Some(1)) {
            RetryDecision::Exhausted(message) => assert_eq!(message.message, "Retry requested, out of attempts."),
            other => panic!("{other:?}"),
        }
    }
}
