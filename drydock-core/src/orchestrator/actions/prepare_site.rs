//! `prepare_site` (compat §3.4.4): three site steps against the node
//! provisioner — the network template, user credentials, the provisioner's
//! own configuration — each under the MaaS retry policy; all three run even
//! if one fails.

use super::ActionResultOf;
use crate::orchestrator::Orchestrator;
use crate::orchestrator::retry::{RetryPolicy, retry_driver};
use crate::task::{Action, Task};

pub(super) async fn run(orchestrator: &Orchestrator, task: &Task) -> ActionResultOf {
    let Some(driver) = orchestrator.require_node_driver(task).await? else { return Ok(()) };
    let site = orchestrator.valid_site(task).await?;
    let (network, credentials, provisioner) = (driver.clone(), driver.clone(), driver);
    let (a, b, c) = (site.clone(), site.clone(), site);
    orchestrator
        .site_step(
            task,
            Action::CreateNetworkTemplate,
            Box::pin(async move { retry_driver(&RetryPolicy::MAAS_API, |_| network.ensure_network_template(&a)).await.map(|s| s.changes) }),
        )
        .await?;
    orchestrator
        .site_step(
            task,
            Action::ConfigureUserCredentials,
            Box::pin(
                async move { retry_driver(&RetryPolicy::MAAS_API, |_| credentials.ensure_user_credentials(&b)).await.map(|s| s.changes) },
            ),
        )
        .await?;
    orchestrator
        .site_step(
            task,
            Action::ConfigureNodeProvisioner,
            Box::pin(async move {
                retry_driver(&RetryPolicy::MAAS_API, |_| provisioner.ensure_provisioner_config(&c)).await.map(|s| s.changes)
            }),
        )
        .await?;
    orchestrator.aggregate_status(task.id, false, None).await?;
    Ok(())
}
