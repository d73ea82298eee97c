//! `deploy_node`: allocate, owner data (one request), the boot-action key
//! tag, then deploy with the cloud-init user data (compat: drivers spec
//! §2.4.11).

use base64::Engine;

use super::Plan;
use crate::drivers::DeployRequest;
use crate::drivers::MachineStatus;
use crate::drivers::maas::plan::Call;
use crate::drivers::maas::resources::machines::Machine;

/// Plan a deployment of `machine` (status `Ready` or `Allocated`). Old
/// boot-action key tags are the ones on the machine (`tag_names`), so no
/// tag list is read (it grows with the site).
pub fn plan(machine: &Machine, request: &DeployRequest) -> Plan {
    let mut plan = Plan::default();
    let sid = machine.system_id.as_str();
    match machine.status() {
        MachineStatus::Ready => plan.push(Call::post("machines/", Some("allocate")).field("system_id", sid)),
        MachineStatus::Allocated => {}
        other => {
            plan.problem(format!("Machine {} ({sid}) cannot be deployed from status {other:?}", machine.hostname));
            return plan;
        }
    }
    // One request for every changed key (MaaS takes each field as a key;
    // the original sent one request per key).
    let mut annotations = Call::post(format!("machines/{sid}/"), Some("set_workload_annotations"));
    for (key, value) in &request.owner_data {
        if machine.owner_data.get(key) != Some(value) {
            annotations = annotations.field(key, value.as_str());
        }
    }
    if !annotations.form.is_empty() {
        plan.push(annotations);
    }
    let prefix = format!("{}__baid__", machine.hostname);
    let wanted = request.bootaction_key.as_ref().map(|key| format!("{prefix}{key}"));
    for tag in machine.tag_names.iter().filter(|tag| tag.starts_with(&prefix) && Some(*tag) != wanted.as_ref()) {
        plan.push(Call::delete(format!("tags/{tag}/")));
    }
    if let Some(name) = &wanted
        && !machine.tag_names.iter().any(|tag| tag == name)
    {
        plan.push(Call::post("tags/", None).field("name", name.as_str()).exists_ok());
        plan.push(Call::post(format!("tags/{name}/"), Some("update_nodes")).field("add", sid));
    }
    let user_data = request.user_data.as_ref().map(|text| base64::engine::general_purpose::STANDARD.encode(text.as_bytes()));
    plan.push(
        Call::post(format!("machines/{sid}/"), Some("deploy"))
            .field_opt("user_data", user_data)
            .field_opt("distro_series", request.image.clone())
            .field_opt("hwe_kernel", request.kernel.clone()),
    );
    plan
}
