//! What the store keeps besides tasks: designs and their parts (the designs
//! API), build data (compat: api spec §4.6) and boot-action records (§4.7).

use chrono::{DateTime, Utc};

use super::ActionResult;
use crate::ids::{BootActionId, TaskId};

/// A design created through the designs API: an id and its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesignRecord {
    /// Identity (a UUID, like task ids).
    pub id: TaskId,
    /// Creation time.
    pub created: DateTime<Utc>,
    /// How many parts it has.
    pub part_count: usize,
}

/// One part of a design: a YAML stream added from a design reference or a
/// request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesignPart {
    /// The design.
    pub design_id: TaskId,
    /// Position (0-based, in the order parts were added).
    pub sequence: u32,
    /// Where it came from (redacted reference or `request body`).
    pub source: String,
    /// The YAML stream.
    pub content: Vec<u8>,
    /// When it was added.
    pub added: DateTime<Utc>,
}

/// A build-data record (compat §4.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildData {
    /// The node.
    pub node_name: String,
    /// The task that collected it.
    pub task_id: TaskId,
    /// When.
    pub collected_date: DateTime<Utc>,
    /// The source (`lshw`, `commission:00-maas-01-cpuinfo`, …).
    pub generator: String,
    /// MIME type.
    pub data_format: String,
    /// The data as text.
    pub data_element: String,
}

/// A node's boot-action context: the task that deployed it last and its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootActionContext {
    /// The node.
    pub node_name: String,
    /// The (per-node deploy) task.
    pub task_id: TaskId,
    /// The node's 32-byte identity key.
    pub identity_key: [u8; 32],
}

/// One boot-action instance and its status (compat §4.7.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootActionStatus {
    /// The node.
    pub node_name: String,
    /// The instance id.
    pub action_id: BootActionId,
    /// The boot action's document name.
    pub action_name: String,
    /// The task status messages go to.
    pub task_id: TaskId,
    /// The key valid for this action.
    pub identity_key: [u8; 32],
    /// `incomplete`, `success`, `failure` or `unreported`.
    pub action_status: ActionResult,
}

impl BootActionStatus {
    /// Whether the status can no longer change (anything but `incomplete`).
    pub fn is_final(&self) -> bool {
        self.action_status != ActionResult::Incomplete
    }
}
