//! The generated-client scenario, Rust edition: drives a live `drydock serve`
//! through the client progenitor generates from openapi/drydock-v1.0.json
//! (as committed, no patches), asserting on typed fields. Run by
//! scripts/checks/openapi_client.sh.
//!
//! Usage: drydock-client-check URL TOKEN VALID_DESIGN_REF FAILING_DESIGN_REF SITE_YAML

use std::process::ExitCode;
use std::time::{Duration, Instant};

use progenitor_client::Error as ClientError;

mod api {
    //! The client generated from the committed document.
    progenitor::generate_api!(spec = "../../../openapi/drydock-v1.0.json", interface = Builder);
}

use api::types;

const HOSTNAMES: [&str; 6] = ["cmp-r01-n03", "cmp-r02-n02", "cmp-r02-n03", "cp-r01-n01", "cp-r01-n02", "cp-r02-n01"];

type Outcome<T = ()> = Result<T, String>;

/// Fails the scenario with what was expected and what came back.
fn check(condition: bool, what: &str, value: &dyn std::fmt::Debug) -> Outcome {
    if condition { Ok(()) } else { Err(format!("{what}; got {value:?}")) }
}

/// A failed call, named.
fn call<E: std::fmt::Debug>(name: &str) -> impl FnOnce(ClientError<E>) -> String + '_ {
    move |error| format!("{name} failed: {error}")
}

/// The typed body of a documented error answer, with its status.
fn error_body<T, E: std::fmt::Debug>(name: &str, answer: Result<T, ClientError<E>>) -> Outcome<(u16, E)> {
    match answer {
        Ok(_) => Err(format!("{name} succeeded where an error answer was expected")),
        Err(ClientError::ErrorResponse(response)) => Ok((response.status().as_u16(), response.into_inner())),
        Err(other) => Err(format!("{name}: not a documented, typed error answer: {other}")),
    }
}

fn make_client(url: &str, token: Option<&str>) -> Outcome<api::Client> {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(token) = token {
        // The documented apiKey header; marked sensitive so it is never printed.
        let mut value = reqwest::header::HeaderValue::from_str(token).map_err(|error| error.to_string())?;
        value.set_sensitive(true);
        headers.insert("X-Auth-Token", value);
    }
    let http =
        reqwest::Client::builder().default_headers(headers).timeout(Duration::from_secs(30)).build().map_err(|error| error.to_string())?;
    Ok(api::Client::new_with_client(url, http))
}

async fn scenario(url: &str, token: &str, valid_ref: &str, failing_ref: &str, site_yaml: &str) -> Outcome<String> {
    let client = make_client(url, Some(token))?;

    // 1. Create a validate_design task and follow it until it completes.
    let created = client
        .create_task()
        .body(types::TaskCreateRequest::builder().action(types::CreatableAction::ValidateDesign).design_ref(valid_ref))
        .send()
        .await
        .map_err(call("create_task"))?
        .into_inner();
    check(created.action == types::TaskAction::ValidateDesign, "the created task's action", &created.action)?;
    let task_id = created.task_id;
    let deadline = Instant::now() + Duration::from_secs(60);
    let task = loop {
        let detail = client.get_task().task_id(&task_id).send().await.map_err(call("get_task"))?.into_inner();
        let types::TaskShown::Detail(task) = detail else {
            return Err(format!("get_task answers the task; got {detail:?}"));
        };
        if matches!(task.status, types::TaskStatus::Complete | types::TaskStatus::Terminated) || Instant::now() > deadline {
            break task;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    check(task.status == types::TaskStatus::Complete, "the task completes", &task.status)?;
    check(task.result.status == types::ResultStatus::Success, "the task's result", &task.result.status)?;

    // 2. The layered tree: every descendant by id, the root among them.
    let tree =
        client.get_task().task_id(&task_id).layers(-1).subtaskerrors(true).send().await.map_err(call("get_task (layers)"))?.into_inner();
    let types::TaskShown::Tree(tree) = tree else {
        return Err(format!("get_task with layers answers the tree; got {tree:?}"));
    };
    check(tree.init_task_id == task_id, "the tree's init_task_id", &tree.init_task_id)?;
    let root = tree.extra.get(&task_id).cloned().flatten();
    check(
        root.as_ref().is_some_and(|root| root.task_id == task_id && root.action == types::TaskAction::ValidateDesign),
        "the root task in the tree",
        &root,
    )?;

    // 3. A failing design: the 400 is the Status document with its findings.
    let answer = client.validate_design().body(types::ValidateDesignRequest::builder().href(failing_ref)).send().await;
    let (code, body) = error_body("validate_design", answer)?;
    check(code == 400, "validate_design of a failing design answers 400", &code)?;
    let types::ValidationFailure::ValidationStatus(status) = body else {
        return Err(format!("the 400 is a typed Status document; got {body:?}"));
    };
    check(status.status == "Failure" && status.code == 400, "the Status document", &status)?;
    check(status.details.error_count >= 1, "the error count", &status.details.error_count)?;
    let errors: Vec<&types::ValidationMessage> = status
        .details
        .message_list
        .iter()
        .filter_map(|m| match m {
            types::ValidationReportMessage::Message(finding) if finding.level == types::FindingLevel::Error => Some(finding),
            _ => None,
        })
        .collect();
    check(errors.iter().any(|m| m.error && m.name == "DD2003"), "an MTU finding (DD2003) at level Error", &errors)?;
    let named: Vec<(&str, &str)> = errors.iter().flat_map(|m| m.documents.iter().map(|d| (d.schema.as_str(), d.name.as_str()))).collect();
    check(named.contains(&("drydock/Network/v1", "oob")), "the finding names Network oob", &named)?;

    // 4. The designs API: a design, a YAML part, the compiled design, documents.
    let design =
        client.create_design().body(types::DesignCreateRequest::builder()).send().await.map_err(call("create_design"))?.into_inner();
    // The part: the site's YAML by reference (the request body the
    // document describes), fetched by the server.
    let yaml_len = std::fs::metadata(site_yaml).map_err(|error| format!("{site_yaml}: {error}"))?.len();
    let part = client
        .load_parts()
        .design_id(&design.id)
        .body(types::PartFromReference::builder().href(valid_ref))
        .send()
        .await
        .map_err(call("load_parts"))?
        .into_inner();
    check(part.design_id == design.id && u64::try_from(part.bytes).ok() == Some(yaml_len), "the part's design and size", &part)?;
    let compiled = client
        .get_design()
        .design_id(&design.id)
        .source(types::GetDesignSource::Compiled)
        .send()
        .await
        .map_err(call("get_design"))?
        .into_inner();
    check(compiled.part_count == 1, "the compiled design's part count", &compiled.part_count)?;
    check(compiled.validation.as_ref().is_some_and(|v| v.status == "Success"), "the compiled design validates", &compiled.validation)?;
    let mut nodes = compiled.nodes.clone();
    nodes.sort();
    check(nodes == HOSTNAMES, "the compiled design's nodes", &nodes)?;
    let networks =
        client.get_parts_by_kind().design_id(&design.id).kind("Network").send().await.map_err(call("get_parts_by_kind"))?.into_inner();
    let names: Vec<&str> = networks.iter().filter_map(|d| d.metadata.get("name")?.as_str()).collect();
    check(names.contains(&"oob") && names.contains(&"mgmt"), "the Network documents' names", &names)?;
    let oob = client.get_part().design_id(&design.id).kind("Network").name("oob").send().await.map_err(call("get_part"))?.into_inner();
    check(
        oob.schema.as_deref() == Some("drydock/Network/v1") && oob.metadata.get("name").and_then(|n| n.as_str()) == Some("oob"),
        "the oob document",
        &oob,
    )?;

    // 5. Errors come back as the typed error envelope.
    for bad in [Some("not-a-token"), None] {
        let (code, envelope) = error_body("get_tasks", make_client(url, bad)?.get_tasks().send().await)?;
        check(code == 401, "no or a wrong token answers 401", &code)?;
        check(!envelope.retry && !envelope.message.is_empty(), "the 401 envelope", &envelope)?;
    }
    let unknown = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
    let (code, envelope) = error_body("get_task", client.get_task().task_id(unknown).send().await)?;
    check(code == 404, "an unknown task answers 404", &code)?;
    check(envelope.message.contains(unknown), "the 404 envelope names the task", &envelope)?;

    // Lists: the task among the tasks, the site's nodes.
    let tasks = client.get_tasks().send().await.map_err(call("get_tasks"))?.into_inner();
    check(tasks.iter().any(|t| t.task_id == task_id), "the task is listed", &tasks.len())?;
    let listed = client.get_nodes().send().await.map_err(call("get_nodes"))?.into_inner();
    let mut hostnames: Vec<&str> = listed.iter().map(|n| n.hostname.as_str()).collect();
    hostnames.sort_unstable();
    check(hostnames == HOSTNAMES, "the listed nodes", &hostnames)?;

    Ok(format!(
        "rust client: task {task_id} complete/success, {} finding(s) on the failing design, design {} with {} \
         Network(s), 401 and 404 typed, {} task(s), {} node(s)",
        status.details.error_count,
        design.id,
        networks.len(),
        tasks.len(),
        listed.len()
    ))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, token, valid_ref, failing_ref, site_yaml] = args.as_slice() else {
        eprintln!("usage: drydock-client-check URL TOKEN VALID_DESIGN_REF FAILING_DESIGN_REF SITE_YAML");
        return ExitCode::from(2);
    };
    match scenario(url, token, valid_ref, failing_ref, site_yaml).await {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(failure) => {
            eprintln!("rust client: {failure}");
            ExitCode::FAILURE
        }
    }
}
