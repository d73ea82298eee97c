//! Design validation (compat: site-design spec §6): the 18 rules in the
//! original's order, each in its own file under [`rules`], and the report
//! the validatedesign API returns ([`DesignReport`]).
//!
//! Every rule always runs; a rule with no error adds an Info
//! `<Long name>: Validation successful.`. Where the original's rule crashes
//! on some input, ours reports a finding instead (each case is named in the
//! rule's doc comment and in docs/validation-rules.md).

pub mod report;
pub mod rules;
pub mod site;

use crate::compile::EffectiveSite;
use crate::model::{DocMeta, Finding, Level};

pub use report::{DesignReport, DesignStatus, Evaluation, ReportMessage, evaluate, evaluate_str};
pub use rules::RULES;
pub use site::{evaluate_site, evaluate_site_rendered};

/// Images and kernels the node provisioner offers (DD3001).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlatformCatalog {
    /// Image names and, per image, kernel names.
    Available(Vec<(String, Vec<String>)>),
    /// The image list could not be loaded.
    ImagesUnavailable,
    /// The kernel lists could not be loaded.
    KernelsUnavailable,
}

/// What validation may consult besides the design.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationOptions {
    /// The node driver's images and kernels; `None` when no node driver is
    /// configured (offline validation), which DD3001 reports as a warning.
    pub platform: Option<PlatformCatalog>,
    /// Accept `test://` libvirt URIs (libvirt's test hypervisor) besides
    /// `qemu+ssh` in DD4002, with a warning: a server started with
    /// `--libvirt-allow-test-uris` (labs and tests only). Off by default.
    pub libvirt_test_uris: bool,
}

/// A validation rule.
pub struct Rule {
    /// DD code (not unique across rules).
    pub code: &'static str,
    /// Long name; the prefix of every message.
    pub name: &'static str,
    /// The check.
    pub check: fn(&RuleContext<'_>, &mut Findings),
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Rule({} {})", self.code, self.name)
    }
}

/// What a rule reads.
#[derive(Debug)]
pub struct RuleContext<'a> {
    /// The effective site.
    pub site: &'a EffectiveSite,
    /// Options (platform catalog).
    pub options: &'a ValidationOptions,
}

/// Collects one rule's findings, prefixing messages with the rule's name.
#[derive(Debug)]
pub struct Findings {
    code: &'static str,
    name: &'static str,
    items: Vec<Finding>,
}

impl Findings {
    fn new(rule: &Rule) -> Self {
        Findings { code: rule.code, name: rule.name, items: Vec::new() }
    }

    /// Record a finding about `documents`.
    pub fn add(&mut self, level: Level, text: impl std::fmt::Display, diagnostic: impl Into<String>, documents: &[&DocMeta]) {
        let mut finding = Finding::new(self.code, level, format!("{}: {text}", self.name), diagnostic);
        finding.rule = Some(self.name);
        for meta in documents {
            finding = finding.cite(meta);
        }
        self.items.push(finding);
    }

    /// Record an error.
    pub fn error(&mut self, text: impl std::fmt::Display, diagnostic: impl Into<String>, documents: &[&DocMeta]) {
        self.add(Level::Error, text, diagnostic, documents);
    }

    /// Record a warning.
    pub fn warning(&mut self, text: impl std::fmt::Display, diagnostic: impl Into<String>, documents: &[&DocMeta]) {
        self.add(Level::Warning, text, diagnostic, documents);
    }
}

/// Run one rule: its findings, plus the Info when it found no error.
pub fn run_rule(rule: &Rule, context: &RuleContext<'_>) -> Vec<Finding> {
    let mut findings = Findings::new(rule);
    (rule.check)(context, &mut findings);
    if !findings.items.iter().any(Finding::is_error) {
        findings.add(Level::Info, "Validation successful.", "", &[]);
    }
    findings.items
}

/// Run every rule in order over an effective site.
pub fn validate(site: &EffectiveSite, options: &ValidationOptions) -> Vec<Finding> {
    let context = RuleContext { site, options };
    RULES.iter().flat_map(|rule| run_rule(rule, &context)).collect()
}
