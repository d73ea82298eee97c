//! The scheduling rules for top-level tasks, as pure data and functions (the
//! main loop in [`runner`](super::runner) applies them): what a task holds
//! while it runs (its [`Claim`]: nothing, a set of nodes, or the whole
//! site), when two claims conflict, and which queued tasks may start now
//! ([`admit`]), looking at the queue in creation order. No I/O, no clock.
//!
//! The rules (docs/scheduling.md):
//! - read-only actions (`validate_design`, `verify_site`, `noop`) hold
//!   nothing and never wait for another task, only for a free slot;
//! - a node action holds the nodes its node filter selects; it waits while
//!   any of them is held by a running task or by an earlier-created task
//!   that is itself still waiting, so overlapping tasks run one after the
//!   other in creation order and disjoint ones run side by side;
//! - a site-wide action (`prepare_site`, and `destroy_nodes` of every node
//!   of the site) holds the site: it waits for every node-touching task
//!   before it, and every node-touching task after it waits for it;
//! - a task whose nodes are not known yet (its design is still loading)
//!   cannot start and holds its place like a site-wide task, so nothing
//!   that might overlap it overtakes it;
//! - at most `max_running` top-level tasks run at once.

use std::collections::{BTreeSet, HashSet};

use crate::task::Action;

/// What a top-level task holds while it runs (and reserves while it waits).
/// Stored with a running task's lease ([`Claim::encode`]), so every replica
/// sharing a store sees what the others' tasks hold.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Claim {
    /// Nothing: read-only work, a node action that selected no node, or a
    /// task whose nodes cannot be known (it fails on its own when it runs).
    Nothing,
    /// These nodes (never empty).
    Nodes(BTreeSet<String>),
    /// The whole site: exclusive with every node-touching task.
    Site,
    /// Not known yet (its design is being loaded): cannot start, and holds
    /// its place in the queue as [`Claim::Site`] does.
    Unknown,
}

impl Claim {
    /// The claim of a node action over `nodes` (nothing when empty).
    pub fn nodes<I, S>(nodes: I) -> Claim
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let nodes: BTreeSet<String> = nodes.into_iter().map(Into::into).collect();
        if nodes.is_empty() { Claim::Nothing } else { Claim::Nodes(nodes) }
    }

    /// The claim of `action` once its node filter selected `selected` of the
    /// site's `site_nodes` nodes: `destroy_nodes` of every node is
    /// site-wide; other actions take [`scope`]'s answer.
    pub fn for_selection(action: Action, selected: Vec<String>, site_nodes: usize) -> Claim {
        match scope(action) {
            Scope::ReadOnly => Claim::Nothing,
            Scope::Site => Claim::Site,
            Scope::Nodes if action == Action::DestroyNodes && site_nodes > 0 && selected.len() >= site_nodes => Claim::Site,
            Scope::Nodes => Claim::nodes(selected),
        }
    }

    /// The text stored with a task's lease.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The claim stored with a running `action`'s lease. One that is not
    /// known (a task an older version left running, unreadable text) is
    /// taken at its widest: nothing for a read-only action, the whole site
    /// otherwise.
    pub fn decode(action: Action, text: &str) -> Claim {
        match serde_json::from_str::<Claim>(text) {
            Ok(Claim::Unknown) | Err(_) => match scope(action) {
                Scope::ReadOnly => Claim::Nothing,
                Scope::Site | Scope::Nodes => Claim::Site,
            },
            Ok(claim) => claim,
        }
    }

    /// Whether a task holding `self` and one holding `other` may not run at
    /// the same time.
    pub fn conflicts(&self, other: &Claim) -> bool {
        let mut held = Held::default();
        held.hold(self);
        held.blocks(other)
    }
}

/// What an action needs to know before it can be given a [`Claim`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Holds nothing; known from the action alone.
    ReadOnly,
    /// Holds the whole site; known from the action alone.
    Site,
    /// Holds the nodes its node filter selects: the design must be loaded.
    Nodes,
}

/// The scope of a top-level action. Actions the orchestrator does not run
/// end at once with an error, so they hold nothing.
pub fn scope(action: Action) -> Scope {
    match action {
        Action::PrepareSite => Scope::Site,
        Action::VerifyNodes | Action::PrepareNodes | Action::DeployNodes | Action::DestroyNodes | Action::RelabelNodes => Scope::Nodes,
        _ => Scope::ReadOnly,
    }
}

/// The union of claims seen so far (running tasks, then queued tasks in
/// creation order): one lookup per node, so a decision is linear in the
/// nodes claimed.
#[derive(Debug, Default)]
struct Held<'a> {
    site: bool,
    nodes: HashSet<&'a str>,
}

impl<'a> Held<'a> {
    fn hold(&mut self, claim: &'a Claim) {
        match claim {
            Claim::Nothing => {}
            Claim::Site | Claim::Unknown => self.site = true,
            Claim::Nodes(nodes) => self.nodes.extend(nodes.iter().map(String::as_str)),
        }
    }

    fn blocks(&self, claim: &Claim) -> bool {
        match claim {
            Claim::Nothing => false,
            Claim::Site | Claim::Unknown => self.site || !self.nodes.is_empty(),
            Claim::Nodes(nodes) => self.site || nodes.iter().any(|node| self.nodes.contains(node.as_str())),
        }
    }
}

/// Which of the `queue` (oldest first, each with its claim) start now, given
/// the claims of the tasks `running` and at most `max_running` running at
/// once (at least one). A queued task starts when a slot is free, its claim
/// is known, and it conflicts with no running task and no task before it in
/// the queue; a task that cannot start still reserves its claim against the
/// tasks after it.
pub fn admit<'a, K: Copy>(running: &[&'a Claim], queue: &[(K, &'a Claim)], max_running: usize) -> Vec<K> {
    admit_into(running, queue, max_running.max(1).saturating_sub(running.len()))
}

/// [`admit`] with `free` slots, whoever runs the `running` tasks: a replica
/// sharing a store holds the claims of every replica's tasks but counts only
/// its own against its slots.
pub fn admit_into<'a, K: Copy>(running: &[&'a Claim], queue: &[(K, &'a Claim)], mut free: usize) -> Vec<K> {
    let mut held = Held::default();
    for claim in running {
        held.hold(claim);
    }
    let mut admitted = Vec::new();
    for (key, claim) in queue {
        if free == 0 {
            break;
        }
        if **claim != Claim::Unknown && !held.blocks(claim) {
            admitted.push(*key);
            free -= 1;
        }
        held.hold(claim);
    }
    admitted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(names: &[&str]) -> Claim {
        Claim::nodes(names.iter().copied())
    }

    #[test]
    fn claims_conflict_on_shared_nodes_and_on_the_site() {
        let (ab, bc, d) = (nodes(&["a", "b"]), nodes(&["b", "c"]), nodes(&["d"]));
        assert!(ab.conflicts(&bc) && bc.conflicts(&ab));
        assert!(!ab.conflicts(&d));
        assert!(Claim::Site.conflicts(&d) && d.conflicts(&Claim::Site) && Claim::Site.conflicts(&Claim::Site));
        for claim in [&ab, &Claim::Site, &Claim::Nothing, &Claim::Unknown] {
            assert!(!Claim::Nothing.conflicts(claim) && !claim.conflicts(&Claim::Nothing), "{claim:?}");
        }
        assert_eq!(nodes(&[]), Claim::Nothing, "a node action that selected nothing holds nothing");
    }

    #[test]
    fn scopes_and_whole_site_destroys() {
        assert_eq!(scope(Action::ValidateDesign), Scope::ReadOnly);
        assert_eq!(scope(Action::VerifySite), Scope::ReadOnly);
        assert_eq!(scope(Action::Noop), Scope::ReadOnly);
        assert_eq!(scope(Action::PrepareSite), Scope::Site);
        for action in [Action::VerifyNodes, Action::PrepareNodes, Action::DeployNodes, Action::DestroyNodes, Action::RelabelNodes] {
            assert_eq!(scope(action), Scope::Nodes, "{action}");
        }
        let all = vec!["a".to_owned(), "b".to_owned()];
        assert_eq!(Claim::for_selection(Action::DestroyNodes, all.clone(), 2), Claim::Site);
        assert_eq!(Claim::for_selection(Action::DestroyNodes, vec!["a".into()], 2), nodes(&["a"]));
        assert_eq!(Claim::for_selection(Action::DeployNodes, all, 2), nodes(&["a", "b"]), "deploying everything holds the nodes");
        assert_eq!(Claim::for_selection(Action::DestroyNodes, Vec::new(), 0), Claim::Nothing);
        assert_eq!(Claim::for_selection(Action::PrepareSite, Vec::new(), 2), Claim::Site);
        assert_eq!(Claim::for_selection(Action::ValidateDesign, vec!["a".into()], 2), Claim::Nothing);
    }

    #[test]
    fn overlapping_tasks_wait_in_creation_order_and_disjoint_ones_start() {
        let (ab, bc, c, d) = (nodes(&["a", "b"]), nodes(&["b", "c"]), nodes(&["c"]), nodes(&["d"]));
        // Nothing running: 1 starts; 2 overlaps it; 3 overlaps only the
        // waiting 2 and must not overtake it; 4 is disjoint from all.
        let queue = [(1, &ab), (2, &bc), (3, &c), (4, &d)];
        assert_eq!(admit(&[], &queue, 16), [1, 4]);
        // 1 and 4 running: nothing more.
        assert_eq!(admit(&[&ab, &d], &queue[1..3], 16), Vec::<i32>::new());
        // 1 done: 2 starts, 3 still waits behind it.
        assert_eq!(admit(&[&d], &queue[1..3], 16), [2]);
        assert_eq!(admit(&[&d, &bc], &queue[2..3], 16), Vec::<i32>::new());
        assert_eq!(admit(&[&d], &queue[2..3], 16), [3]);
    }

    #[test]
    fn read_only_tasks_never_wait_for_claims() {
        let (ab, nothing) = (nodes(&["a", "b"]), Claim::Nothing);
        let queue = [(1, &Claim::Site), (2, &nothing), (3, &Claim::Unknown), (4, &nothing)];
        assert_eq!(admit(&[&ab], &queue, 16), [2, 4]);
        assert_eq!(admit(&[&Claim::Site], &[(1, &nothing)], 16), [1]);
    }

    #[test]
    fn site_wide_tasks_wait_for_and_block_node_tasks() {
        let (a, b, nothing) = (nodes(&["a"]), nodes(&["b"]), Claim::Nothing);
        let queue = [(1, &Claim::Site), (2, &b), (3, &nothing)];
        assert_eq!(admit(&[&a], &queue, 16), [3], "the site waits for a; b waits behind the site");
        assert_eq!(admit(&[], &queue, 16), [1, 3]);
        assert_eq!(admit(&[&Claim::Site], &queue[1..], 16), [3]);
        assert_eq!(admit(&[], &[(1, &a), (2, &Claim::Site), (3, &b)], 16), [1], "b may not overtake the waiting site task");
        assert_eq!(admit(&[], &[(1, &Claim::Site), (2, &Claim::Site)], 16), [1]);
    }

    #[test]
    fn unknown_claims_hold_their_place() {
        let (a, b) = (nodes(&["a"]), nodes(&["b"]));
        assert_eq!(admit(&[], &[(1, &Claim::Unknown), (2, &a)], 16), Vec::<i32>::new());
        assert_eq!(admit(&[], &[(1, &b), (2, &Claim::Unknown), (3, &a)], 16), [1]);
    }

    #[test]
    fn claims_survive_their_encoding_and_unknown_ones_are_widest() {
        for claim in [nodes(&["a", "b"]), Claim::Site, Claim::Nothing] {
            assert_eq!(Claim::decode(Action::DeployNodes, &claim.encode()), claim);
        }
        assert_eq!(Claim::decode(Action::DeployNodes, ""), Claim::Site);
        assert_eq!(Claim::decode(Action::DeployNodes, &Claim::Unknown.encode()), Claim::Site);
        assert_eq!(Claim::decode(Action::ValidateDesign, "garbage"), Claim::Nothing);
    }

    #[test]
    fn other_replicas_claims_block_without_taking_slots() {
        let (a, b) = (nodes(&["a"]), nodes(&["b"]));
        // Ten tasks of other replicas hold a; this replica has two free slots.
        let elsewhere: Vec<&Claim> = std::iter::repeat_n(&a, 10).collect();
        assert_eq!(admit_into(&elsewhere, &[(1, &a), (2, &b), (3, &Claim::Nothing)], 2), [2, 3]);
        assert_eq!(admit_into(&elsewhere, &[(2, &b)], 0), Vec::<i32>::new(), "no free slot");
    }

    #[test]
    fn the_slot_limit_is_honoured() {
        let claims: Vec<Claim> = (0..5).map(|i| nodes(&[&format!("n{i}")])).collect();
        let queue: Vec<(usize, &Claim)> = claims.iter().enumerate().collect();
        assert_eq!(admit(&[], &queue, 2), [0, 1]);
        assert_eq!(admit(&[&claims[0]], &queue[1..], 2), [1]);
        assert_eq!(admit(&[&claims[0], &claims[1]], &queue[2..], 2), Vec::<usize>::new());
        assert_eq!(admit(&[], &queue, 0), [0], "at least one task runs");
        let nothing = Claim::Nothing;
        assert_eq!(admit(&[&nothing, &nothing], &[(9, &nothing)], 2), Vec::<i32>::new(), "read-only tasks take slots too");
    }
}
