//! Pure planners: from the design and the observed MaaS state to the
//! ordered calls that make MaaS match (compat: drivers spec §2.4). No I/O
//! here; a plan that is run twice against the state it produced is empty
//! or repeats only the calls MaaS needs to be told again.

pub mod deploy;
pub mod network;
pub mod node_network;
pub mod platform;
pub mod site;
pub mod storage;

#[cfg(test)]
mod tests;

/// A plan: the calls to make and what could not be planned (each naming the
/// design object).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Calls, in order.
    pub calls: Vec<super::plan::Call>,
    /// Problems, one sentence each.
    pub problems: Vec<String>,
    /// Whether some problem may clear by itself (MaaS not listing a fabric
    /// while it resyncs), so the step is worth retrying.
    pub transient: bool,
}

impl Plan {
    /// Add a call.
    pub fn push(&mut self, call: super::plan::Call) {
        self.calls.push(call);
    }

    /// Record a problem.
    pub fn problem(&mut self, text: impl Into<String>) {
        self.problems.push(text.into());
    }

    /// Record a problem that may clear by itself.
    pub fn transient_problem(&mut self, text: impl Into<String>) {
        self.transient = true;
        self.problem(text);
    }
}

/// Whether a link or network is marked `noconfig` (a `noconfig` label):
/// Drydock leaves it alone in MaaS.
pub fn is_noconfig(labels: &indexmap::IndexMap<String, Option<String>>) -> bool {
    labels.keys().any(|key| key == "noconfig")
}
