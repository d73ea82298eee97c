//! The other site-wide settings: SSH keys (`configure_user_credentials`),
//! package repositories (`configure_node_provisioner`) and boot-source
//! selections (compat: drivers spec §2.4.3, §2.4.4).

use super::Plan;
use crate::compile::EffectiveSite;
use crate::drivers::maas::plan::Call;
use crate::drivers::maas::resources::account::SshKey;
use crate::drivers::maas::resources::boot::BootSourceSelection;
use crate::drivers::maas::resources::repositories::Repository;

/// Built-in repositories whose component list is sent as the complement.
const BUILT_IN: [&str; 2] = ["main_archive", "ports_archive"];
/// Archive pockets MaaS can disable.
const POCKETS: [&str; 3] = ["updates", "security", "backports"];
/// Components of the Ubuntu archive.
const UBUNTU_COMPONENTS: [&str; 4] = ["main", "restricted", "universe", "multiverse"];

/// SSH keys the account lacks.
pub fn plan_ssh_keys(site: &EffectiveSite, existing: &[SshKey]) -> Plan {
    let mut plan = Plan::default();
    for key in site.design.region().map(|region| region.authorized_keys.as_slice()).unwrap_or_default() {
        let key = key.replace(['\n', '\r'], "");
        if !existing.iter().any(|have| have.key == key) && !plan.calls.iter().any(|call| call.literal("key") == Some(key.as_str())) {
            plan.push(Call::post("account/prefs/sshkeys/", None).field("key", key));
        }
    }
    plan
}

/// Repositories to create or update, and to remove with `remove_unlisted`.
pub fn plan_repositories(site: &EffectiveSite, existing: &[Repository]) -> Plan {
    let mut plan = Plan::default();
    let Some(list) = site.design.region().and_then(|region| region.repositories.as_ref()) else { return plan };
    for repo in &list.repositories {
        let join = |items: &Option<Vec<String>>| items.as_ref().map(|items| items.join(","));
        let mut call = match existing.iter().find(|have| have.name == repo.name) {
            Some(have) => Call::put(format!("package-repositories/{}/", have.id)),
            None => Call::post("package-repositories/", None),
        };
        call = call
            .field("name", repo.name.as_str())
            .field("url", repo.url.clone().unwrap_or_default())
            .field_opt("key", repo.gpgkey.clone())
            .field_opt("distributions", join(&repo.distributions))
            .field_opt("arches", join(&repo.arches));
        // Pockets the design does not list as subrepos are disabled.
        if let Some(subrepos) = &repo.subrepos {
            let disabled: Vec<&str> = POCKETS.iter().copied().filter(|p| !subrepos.iter().any(|s| s == p)).collect();
            if !disabled.is_empty() {
                call = call.field("disabled_pockets", disabled.join(","));
            }
        }
        if BUILT_IN.contains(&repo.name.as_str()) {
            let wanted = repo.components.clone().unwrap_or_default();
            let disabled: Vec<&str> = UBUNTU_COMPONENTS.iter().copied().filter(|c| !wanted.iter().any(|w| w == c)).collect();
            call = call.field("disabled_components", disabled.join(","));
        } else {
            call = call.field_opt("components", join(&repo.components));
        }
        plan.push(call);
    }
    if list.remove_unlisted {
        for have in existing {
            if !BUILT_IN.contains(&have.name.as_str()) && !list.repositories.iter().any(|repo| repo.name == have.name) {
                plan.push(Call::delete(format!("package-repositories/{}/", have.id)));
            }
        }
    }
    plan
}

/// Boot-source selections for every Ubuntu release the nodes deploy, and
/// an import when one was added.
pub fn plan_boot_selections(site: &EffectiveSite, source: i64, existing: &[BootSourceSelection]) -> Plan {
    let mut plan = Plan::default();
    let mut releases: Vec<&str> = site.nodes().iter().filter_map(|node| node.config.image.as_deref()).collect();
    releases.sort_unstable();
    releases.dedup();
    for release in releases {
        if !existing.iter().any(|selection| selection.os == "ubuntu" && selection.release == release) {
            plan.push(
                Call::post(format!("boot-sources/{source}/selections/"), None)
                    .field("os", "ubuntu")
                    .field("release", release)
                    .field("arches", "amd64")
                    .field("subarches", "*")
                    .field("labels", "*"),
            );
        }
    }
    if !plan.calls.is_empty() {
        plan.push(Call::post("boot-resources/", Some("import")));
    }
    plan
}
