//! `drydock task create|list|show|builddata|delete`: tasks through the API,
//! with `--block` following a task to its end on an indicatif display (nodes
//! succeeded/failed and the running steps) and exiting non-zero unless it
//! succeeded.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

use super::client::{Client, ClientArgs, ClientOutput, Failure, cell, print_table, print_value};

/// `drydock task ...`.
#[derive(Debug, Args)]
pub struct TaskArgs {
    /// Server and output options.
    #[command(flatten)]
    pub client: ClientArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: TaskCommand,
}

/// The task subcommands.
#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Create a task (and with --block follow it to its end).
    Create(CreateArgs),
    /// List tasks.
    List,
    /// Show one task (with --block, once it has ended).
    Show(ShowArgs),
    /// Print a task's build data.
    Builddata(BuildDataArgs),
    /// Purge tasks older than some days.
    Delete(DeleteArgs),
}

/// Arguments of `task create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The design: a local file (uploaded through the designs API) or a URL the server can read.
    #[arg(long, short = 'd')]
    pub design_ref: String,
    /// The action, e.g. verify_site, prepare_nodes, deploy_nodes.
    #[arg(long, short = 'a')]
    pub action: String,
    /// Node names, comma-separated.
    #[arg(long, short = 'n', value_delimiter = ',')]
    pub node_names: Vec<String>,
    /// Rack names, comma-separated.
    #[arg(long, short = 'r', value_delimiter = ',')]
    pub rack_names: Vec<String>,
    /// Node tags, comma-separated.
    #[arg(long, short = 't', value_delimiter = ',')]
    pub node_tags: Vec<String>,
    /// Follow the task until it ends.
    #[arg(long, short = 'b')]
    pub block: bool,
    /// The longest wait in seconds between polls with --block (the first
    /// polls come sooner: 50 ms, doubling up to this).
    #[arg(long, default_value_t = 15.0)]
    pub poll_interval: f64,
}

/// Arguments of `task show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The task id.
    #[arg(long, short = 't')]
    pub task_id: String,
    /// Follow the task until it ends.
    #[arg(long, short = 'b')]
    pub block: bool,
    /// The longest wait in seconds between polls with --block (the first
    /// polls come sooner: 50 ms, doubling up to this).
    #[arg(long, default_value_t = 15.0)]
    pub poll_interval: f64,
    /// Also print each node's result and the boot-action statuses it
    /// reported (from the whole task tree).
    #[arg(long)]
    pub nodes: bool,
}

/// Arguments of `task builddata`.
#[derive(Debug, Args)]
pub struct BuildDataArgs {
    /// The task id.
    #[arg(long, short = 't')]
    pub task_id: String,
}

/// Arguments of `task delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Purge tasks older than this many days.
    #[arg(long, short = 'd')]
    pub days: u32,
}

/// The node filter of `task create` (§7.1, with the node tags kept):
/// `None` unless a name, rack or tag is given.
pub fn node_filter(nodes: &[String], racks: &[String], tags: &[String]) -> Option<Value> {
    if nodes.is_empty() && racks.is_empty() && tags.is_empty() {
        return None;
    }
    let mut set = serde_json::Map::new();
    set.insert("filter_type".into(), "union".into());
    if !nodes.is_empty() {
        set.insert("node_names".into(), json!(nodes));
    }
    if !racks.is_empty() {
        set.insert("rack_names".into(), json!(racks));
    }
    if !tags.is_empty() {
        set.insert("node_tags".into(), json!(tags));
    }
    Some(json!({"filter_set_type": "intersection", "filter_set": [Value::Object(set)]}))
}

/// Run a task subcommand.
pub async fn run(args: TaskArgs) -> ExitCode {
    let format = args.client.output;
    let result = async {
        let client = Client::connect(&args.client).await?;
        match args.command {
            TaskCommand::Create(create) => create_task(&client, create, format).await,
            TaskCommand::List => {
                let tasks = Value::Array(client.pages("tasks").await?);
                match format {
                    ClientOutput::Text => print_tasks(&tasks),
                    other => print_value(&tasks, other),
                }
                Ok(ExitCode::SUCCESS)
            }
            TaskCommand::Show(show) => {
                let path = format!("tasks/{}", encode(&show.task_id));
                let code = if show.block {
                    let (task, tree) = follow(&client, &show.task_id, show.poll_interval).await?;
                    finish(&task, &tree, format)
                } else {
                    let task = client.json(Method::GET, &path, None).await?;
                    // A task that did not succeed is shown with the steps
                    // that failed, which live in its descendants.
                    let tree = if format == ClientOutput::Text && !succeeded_or_running(&task) {
                        client.get_query(&path, &[("layers", "-1".to_string())]).await?
                    } else {
                        Value::Null
                    };
                    print_task(&task, &tree, format);
                    ExitCode::SUCCESS
                };
                if show.nodes {
                    let tree = client.get_query(&path, &[("layers", "-1".to_string())]).await?;
                    print_nodes(&tree, format);
                }
                Ok(code)
            }
            TaskCommand::Builddata(data) => {
                let (status, text) = client.call(Method::GET, &format!("tasks/{}/builddata", encode(&data.task_id)), None).await?;
                if status == 404 {
                    return Err(Failure::Request(format!("no build data for task {}", data.task_id)));
                }
                if !(200..300).contains(&status) {
                    return Err(Failure::Request(super::client::status_error(status, &text)));
                }
                let value: Value = serde_json::from_str(&text).map_err(|_| Failure::Request("the build data is not JSON".into()))?;
                print_value(&value, if format == ClientOutput::Text { ClientOutput::Yaml } else { format });
                Ok(ExitCode::SUCCESS)
            }
            TaskCommand::Delete(delete) => {
                let (status, text) = client.call(Method::DELETE, &format!("tasks?days={}", delete.days), None).await?;
                if !(200..300).contains(&status) {
                    return Err(Failure::Request(super::client::status_error(status, &text)));
                }
                outln!("Task table purged successfully.");
                Ok(ExitCode::SUCCESS)
            }
        }
    }
    .await;
    result.unwrap_or_else(Failure::report)
}

/// Percent-encode one URL path segment.
pub fn encode(segment: &str) -> String {
    segment
        .bytes()
        .map(
            |byte| {
                if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) { (byte as char).to_string() } else { format!("%{byte:02X}") }
            },
        )
        .collect()
}

async fn create_task(client: &Client, args: CreateArgs, format: ClientOutput) -> Result<ExitCode, Failure> {
    if !(args.poll_interval.is_finite() && args.poll_interval > 0.0) {
        return Err(Failure::Usage("--poll-interval must be a positive number of seconds".into()));
    }
    let design = client.design_ref(&args.design_ref).await?;
    let filter = node_filter(&args.node_names, &args.rack_names, &args.node_tags);
    if !args.node_names.is_empty() {
        check_node_names(client, &design, &args.node_names).await?;
    }
    let body = json!({"action": args.action, "design_ref": design, "node_filter": filter});
    let task = client.json(Method::POST, "tasks", Some(&body)).await?;
    if !args.block {
        print_task(&task, &Value::Null, format);
        return Ok(ExitCode::SUCCESS);
    }
    let id = task.get("task_id").and_then(Value::as_str).ok_or_else(|| Failure::Request("the created task has no task_id".into()))?;
    let (task, tree) = follow(client, id, args.poll_interval).await?;
    Ok(finish(&task, &tree, format))
}

/// Every named node must be in the design: ask the server's node filter.
async fn check_node_names(client: &Client, design: &str, names: &[String]) -> Result<(), Failure> {
    let filter = json!({"filter_set_type": "union", "filter_set": [{"filter_type": "union", "node_names": names}]});
    let selected = client.json(Method::POST, "nodefilter", Some(&json!({"node_filter": filter, "design_ref": design}))).await?;
    let selected: Vec<&str> = selected.as_array().map(|items| items.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    let unknown: Vec<&str> = names.iter().map(String::as_str).filter(|name| !selected.contains(name)).collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(Failure::Usage(format!("unknown node{} in the design: {}", if unknown.len() == 1 { "" } else { "s" }, unknown.join(", "))))
    }
}

fn ended(task: &Value) -> bool {
    matches!(task.get("status").and_then(Value::as_str), Some("complete" | "terminated"))
}

/// The waits between polls with `--block`: 50 ms, doubling up to
/// `longest` seconds, so a task that ends at once is reported at once and a
/// long one is polled at the user's interval.
fn poll_waits(longest: f64) -> impl Iterator<Item = Duration> {
    let longest = Duration::from_secs_f64(longest);
    std::iter::successors(Some(FIRST_POLL.min(longest)), move |wait| Some((*wait * 2).min(longest)))
}

/// The first wait of [`poll_waits`].
const FIRST_POLL: Duration = Duration::from_millis(50);

/// Poll a task (with its descendants) until it ends, drawing progress on
/// stderr; the final task and its tree (`?layers=-1`).
async fn follow(client: &Client, id: &str, interval: f64) -> Result<(Value, Value), Failure> {
    if !(interval.is_finite() && interval > 0.0) {
        return Err(Failure::Usage("--poll-interval must be a positive number of seconds".into()));
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let path = format!("tasks/{}", encode(id));
    let query = [("layers", "-1".to_string())];
    let mut waits = poll_waits(interval);
    loop {
        let tree = match client.get_query(&path, &query).await {
            Ok(tree) => tree,
            Err(error) => {
                bar.finish_and_clear();
                return Err(error);
            }
        };
        let root = tree.get("init_task_id").and_then(Value::as_str).unwrap_or(id);
        let Some(top) = tree.get(root).cloned() else {
            bar.finish_and_clear();
            return Err(Failure::Request(format!("the server's answer for task {id} does not contain the task")));
        };
        let states = node_states(&tree, &top);
        let mut message = progress_line(&tree, &top);
        if states.len() <= MAX_NODE_LINES {
            for (node, state) in &states {
                message.push_str(&format!("\n    {node:<24} {state}"));
            }
        }
        bar.set_message(message);
        if ended(&top) {
            bar.finish_and_clear();
            return Ok((top, tree));
        }
        tokio::time::sleep(waits.next().unwrap_or(FIRST_POLL)).await;
    }
}

/// `action: status · N nodes ok, M failed · running: steps`.
pub fn progress_line(tree: &Value, top: &Value) -> String {
    let count = |key: &str| top.pointer(&format!("/result/{key}")).and_then(Value::as_array).map_or(0, Vec::len);
    let mut running: Vec<String> = tree
        .as_object()
        .map(|tasks| {
            tasks
                .values()
                .filter(|task| {
                    task.get("status").and_then(Value::as_str) == Some("running")
                        && task.get("parent_task_id").is_some_and(|parent| !parent.is_null())
                })
                .filter_map(|task| task.get("action").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    running.sort();
    running.dedup();
    let steps = if running.is_empty() { String::new() } else { format!(" · running: {}", running.join(", ")) };
    format!(
        "{}: {} · {} node{} succeeded, {} failed{steps}",
        cell(top, "action"),
        cell(top, "status"),
        count("successes"),
        if count("successes") == 1 { "" } else { "s" },
        count("failures")
    )
}

/// Follow a task with one line per node up to this many nodes.
const MAX_NODE_LINES: usize = 40;

fn strings(value: Option<&Value>) -> impl Iterator<Item = &str> {
    value.and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
}

/// The node names of a task's filter (`filter_set[*].node_names`).
fn filter_nodes(task: &Value) -> impl Iterator<Item = &str> {
    task.pointer("/node_filter/filter_set")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|filter| strings(filter.get("node_names")))
}

/// Each node of a task tree (`?layers=-1`) and where it is: `succeeded`,
/// `failed`, the newest running step that names it, or `waiting`.
pub fn node_states(tree: &Value, top: &Value) -> std::collections::BTreeMap<String, String> {
    let tasks: Vec<&Value> = tree.as_object().map(|tasks| tasks.values().filter(|task| task.is_object()).collect()).unwrap_or_default();
    let mut states: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
    for task in &tasks {
        for node in filter_nodes(task).chain(strings(task.pointer("/result/successes"))).chain(strings(task.pointer("/result/failures"))) {
            states.entry(node.to_owned()).or_default();
        }
    }
    // The whole task's results first (a success wins over a failure) …
    for (key, state) in [("failures", "failed"), ("successes", "succeeded")] {
        for node in strings(top.pointer(&format!("/result/{key}"))) {
            states.insert(node.to_owned(), state.to_owned());
        }
    }
    // … then the newest running step that names a node without a result for
    // it (creation times share one format and zone, so they sort as text).
    let mut running: Vec<&Value> = tasks
        .iter()
        .copied()
        .filter(|task| {
            task.get("status").and_then(Value::as_str) == Some("running") && task.get("parent_task_id").is_some_and(|p| !p.is_null())
        })
        .collect();
    running.sort_by_key(|task| std::cmp::Reverse(cell(task, "created")));
    for task in running {
        let done: std::collections::HashSet<&str> =
            strings(task.pointer("/result/successes")).chain(strings(task.pointer("/result/failures"))).collect();
        let action = cell(task, "action");
        for node in filter_nodes(task).filter(|node| !done.contains(node)) {
            if let Some(state) = states.get_mut(node).filter(|state| state.is_empty()) {
                state.clone_from(&action);
            }
        }
    }
    for state in states.values_mut().filter(|state| state.is_empty()) {
        *state = "waiting".into();
    }
    states
}

/// One row per node of a task tree: its result, the boot-action statuses it
/// reported and, when it failed, the errors recorded for it (one pass over
/// the messages).
fn node_rows(tree: &Value) -> Vec<(String, String, Vec<String>, Vec<String>)> {
    let root = tree.get("init_task_id").and_then(Value::as_str).unwrap_or_default();
    let top = tree.get(root).cloned().unwrap_or(Value::Null);
    let mut notes: std::collections::HashMap<String, (Vec<String>, Vec<String>)> = std::collections::HashMap::new();
    for task in tree.as_object().into_iter().flat_map(|tasks| tasks.values()) {
        for message in task.pointer("/result/details/messageList").and_then(Value::as_array).into_iter().flatten() {
            let Some(node) = message.get("context").and_then(Value::as_str) else { continue };
            let text = cell(message, "message");
            if let Some(rest) = text.strip_prefix("Boot action ") {
                notes.entry(node.to_owned()).or_default().0.push(rest.replace(" completed with status ", ": "));
            } else if message.get("error").and_then(Value::as_bool) == Some(true) {
                notes.entry(node.to_owned()).or_default().1.push(format!("{}: {text}", cell(task, "action")));
            }
        }
    }
    node_states(tree, &top)
        .into_iter()
        .map(|(node, state)| {
            let (boot_actions, errors) = notes.remove(&node).unwrap_or_default();
            (node, state, boot_actions, errors)
        })
        .collect()
}

fn print_nodes(tree: &Value, format: ClientOutput) {
    let rows = node_rows(tree);
    match format {
        ClientOutput::Text => {
            outln!();
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|(node, state, boot, _)| vec![node.clone(), state.clone(), if boot.is_empty() { "-".into() } else { boot.join("; ") }])
                .collect();
            print_table(&["Node", "Result", "Boot actions"], &table);
            for (node, _, _, errors) in rows.iter().filter(|row| row.1 == "failed") {
                for error in errors {
                    outln!("{node}: {error}");
                }
            }
        }
        other => {
            let value: Vec<Value> = rows
                .into_iter()
                .map(|(node, result, boot_actions, errors)| json!({"node": node, "result": result, "boot_actions": boot_actions, "errors": errors}))
                .collect();
            print_value(&Value::Array(value), other);
        }
    }
}

/// Print the final task; success only when its result is `success`.
fn finish(task: &Value, tree: &Value, format: ClientOutput) -> ExitCode {
    print_task(task, tree, format);
    let result = task.pointer("/result/status").and_then(Value::as_str).unwrap_or("unknown");
    if result == "success" {
        ExitCode::SUCCESS
    } else {
        eprintln!("{}: task {} ended with result {result}", super::output::Style::stderr().error("error"), cell(task, "task_id"));
        ExitCode::from(1)
    }
}

/// Whether a task succeeded or has not ended yet (nothing to explain).
fn succeeded_or_running(task: &Value) -> bool {
    !ended(task) || task.pointer("/result/status").and_then(Value::as_str) == Some("success")
}

/// A task as text, or as `format`. A task that ended without success is
/// followed by why: the errors recorded in `tree` (its `?layers=-1` tree, or
/// `Null` for the task's own), the first [`MAX_ERROR_LINES`] of them.
fn print_task(task: &Value, tree: &Value, format: ClientOutput) {
    match format {
        ClientOutput::Text => {
            let nodes = |key: &str| {
                let names = strings(task.pointer(&format!("/result/{key}"))).collect::<Vec<_>>();
                if names.is_empty() { "-".to_owned() } else { names.join(", ") }
            };
            let mut rows = vec![
                ("Task ID", cell(task, "task_id")),
                ("Action", cell(task, "action")),
                ("Status", cell(task, "status")),
                ("Result", task.pointer("/result/status").and_then(Value::as_str).unwrap_or("-").to_owned()),
            ];
            if let Some(message) = task.pointer("/result/message").and_then(Value::as_str).filter(|text| !text.is_empty()) {
                rows.push(("Message", message.to_owned()));
            }
            rows.extend([
                ("Design", cell(task, "design_ref")),
                ("Created", cell(task, "created")),
                ("Succeeded", nodes("successes")),
                ("Failed", nodes("failures")),
            ]);
            for (name, value) in rows {
                outln!("{name:<10} {value}");
            }
            if !succeeded_or_running(task) {
                let errors = error_lines(task, tree);
                if !errors.is_empty() {
                    outln!("Errors");
                    for line in errors.iter().take(MAX_ERROR_LINES) {
                        outln!("  {line}");
                    }
                    if errors.len() > MAX_ERROR_LINES {
                        outln!("  … and {} more (-o yaml shows them all)", errors.len() - MAX_ERROR_LINES);
                    }
                }
            }
        }
        other => print_value(task, other),
    }
}

/// The most error lines [`print_task`] prints.
const MAX_ERROR_LINES: usize = 10;

/// The error messages of a task and its descendants, oldest first, each as
/// `step: what (node|document name): message` (the step only for a
/// descendant).
fn error_lines(task: &Value, tree: &Value) -> Vec<String> {
    let mut tasks: Vec<&Value> = tree.as_object().map(|tasks| tasks.values().filter(|task| task.is_object()).collect()).unwrap_or_default();
    if tasks.is_empty() {
        tasks.push(task);
    }
    let root = cell(task, "task_id");
    let mut lines: Vec<(String, String)> = Vec::new();
    for each in tasks {
        let step = if cell(each, "task_id") == root { String::new() } else { format!("{}: ", cell(each, "action")) };
        for message in each.pointer("/result/details/messageList").and_then(Value::as_array).into_iter().flatten() {
            if message.get("error").and_then(Value::as_bool) != Some(true) {
                continue;
            }
            let about = match (message.get("context_type").and_then(Value::as_str), message.get("context").and_then(Value::as_str)) {
                (Some(kind), Some(name)) if !name.is_empty() => format!("{kind} {name}: "),
                (None, Some(name)) if !name.is_empty() => format!("{name}: "),
                _ => String::new(),
            };
            lines.push((cell(message, "ts"), format!("{step}{about}{}", cell(message, "message"))));
        }
    }
    lines.sort();
    lines.into_iter().map(|(_, line)| line).collect()
}

fn print_tasks(tasks: &Value) {
    let rows: Vec<Vec<String>> = tasks
        .as_array()
        .map(|tasks| {
            tasks
                .iter()
                .map(|task| {
                    vec![
                        cell(task, "task_id"),
                        cell(task, "action"),
                        cell(task, "status"),
                        task.pointer("/result/status").and_then(Value::as_str).unwrap_or("-").to_owned(),
                        cell(task, "created"),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    print_table(&["Task ID", "Action", "Status", "Result", "Created"], &rows);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_keeps_tags() {
        assert_eq!(node_filter(&[], &[], &[]), None);
        let filter = node_filter(&["n1".into()], &[], &["gpu".into()]).expect("filter");
        assert_eq!(
            filter,
            json!({"filter_set_type": "intersection", "filter_set": [{"filter_type": "union", "node_names": ["n1"], "node_tags": ["gpu"]}]})
        );
    }

    #[test]
    fn nodes_show_their_newest_running_step_result_and_boot_actions() {
        let filter = |names: &[&str]| json!({"filter_set_type": "union", "filter_set": [{"filter_type": "union", "node_names": names}]});
        let top = json!({"task_id": "t", "action": "deploy_nodes", "status": "running", "parent_task_id": null, "node_filter": filter(&["a", "b", "c"]),
            "result": {"successes": ["a"], "failures": []}});
        let tree = json!({"init_task_id": "t", "t": top,
            "s1": {"action": "prepare_nodes", "status": "running", "parent_task_id": "t", "created": "2026-11-30 10:00:00", "node_filter": filter(&["b", "c"]),
                   "result": {"successes": ["c"], "failures": []}},
            "s2": {"action": "deploy_node", "status": "running", "parent_task_id": "s1", "created": "2026-11-30 10:00:05", "node_filter": filter(&["b"]),
                   "result": {"successes": [], "failures": []}},
            "s3": {"action": "bootaction_report", "status": "complete", "parent_task_id": "t", "created": "2026-11-30 10:00:09", "node_filter": filter(&["a"]),
                   "result": {"successes": ["a"], "failures": [], "details": {"messageList": [
                       {"context": "a", "message": "Boot action hello completed with status success", "error": false},
                       {"context": "b", "message": "unrelated", "error": true}]}}}});
        let states = node_states(&tree, &tree["t"]);
        assert_eq!(states["a"], "succeeded");
        assert_eq!(states["b"], "deploy_node");
        assert_eq!(states["c"], "waiting", "c finished prepare_nodes and nothing newer names it");
        let rows = node_rows(&tree);
        assert_eq!(rows[0].2, vec!["hello: success".to_string()]);
        assert_eq!(rows[1].3, vec!["bootaction_report: unrelated".to_string()]);
    }

    #[test]
    fn polls_start_at_once_and_slow_down_to_the_interval() {
        let waits: Vec<u128> = poll_waits(1.0).take(8).map(|wait| wait.as_millis()).collect();
        assert_eq!(waits, [50, 100, 200, 400, 800, 1000, 1000, 1000]);
        assert_eq!(poll_waits(0.01).next(), Some(Duration::from_millis(10)), "never longer than asked");
    }

    #[test]
    fn a_failed_task_is_explained_by_its_errors_oldest_first() {
        let task = json!({"task_id": "t", "action": "deploy_nodes", "status": "complete", "result": {"status": "failure",
            "details": {"messageList": [{"message": "Some nodes failed", "error": true, "ts": "2026-12-05 10:00:09"}]}}});
        let tree = json!({"init_task_id": "t", "t": task,
            "s": {"task_id": "s", "action": "deploy_node", "status": "complete", "result": {"status": "failure", "details": {"messageList": [
                {"message": "MaaS refused the deployment", "error": true, "context_type": "node", "context": "n2", "ts": "2026-12-05 10:00:05"},
                {"message": "Deploying", "error": false, "context_type": "node", "context": "n2", "ts": "2026-12-05 10:00:01"}]}}}});
        assert_eq!(
            error_lines(&tree["t"], &tree),
            ["deploy_node: node n2: MaaS refused the deployment", "Some nodes failed"],
            "the step and node named, information left out"
        );
        assert_eq!(error_lines(&tree["t"], &Value::Null), ["Some nodes failed"], "without the tree, the task's own");
        assert!(!succeeded_or_running(&task));
        assert!(succeeded_or_running(&json!({"status": "running", "result": {"status": "incomplete"}})));
    }

    #[test]
    fn progress_counts_nodes_and_running_steps() {
        let top = json!({"action": "deploy_nodes", "status": "running", "parent_task_id": null,
            "result": {"successes": ["a", "b"], "failures": ["c"]}});
        let tree = json!({"init_task_id": "t", "t": top, "s": {"action": "prepare_nodes", "status": "running", "parent_task_id": "t"}});
        assert_eq!(progress_line(&tree, &top), "deploy_nodes: running · 2 nodes succeeded, 1 failed · running: prepare_nodes");
    }
}
