//! The original's policy rules and defaults (compat: api spec §5.3, §5.4)
//! and an evaluator for the oslo.policy rule language operators use in
//! policy files: `role:`, `rule:`, `@`, `!`, generic `key:value` checks with
//! `%(target)s` substitution, `and`, `or`, `not` and parentheses. A policy
//! file is re-read when it changes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

/// Every rule the server names, with its default.
pub const DEFAULT_RULES: &[(&str, &str)] = &[
    ("admin_required", "role:admin or is_admin:1"),
    ("physical_provisioner:read_task", "role:admin"),
    ("physical_provisioner:create_task", "role:admin"),
    ("physical_provisioner:validate_design", "role:admin"),
    ("physical_provisioner:verify_site", "role:admin"),
    ("physical_provisioner:prepare_site", "role:admin"),
    ("physical_provisioner:verify_nodes", "role:admin"),
    ("physical_provisioner:prepare_nodes", "role:admin"),
    ("physical_provisioner:deploy_nodes", "role:admin"),
    ("physical_provisioner:destroy_nodes", "role:admin"),
    ("physical_provisioner:relabel_nodes", "role:admin"),
    ("physical_provisioner:delete_tasks", "role:admin"),
    ("physical_provisioner:read_build_data", "role:admin"),
    ("physical_provisioner:read_data", "role:admin"),
    ("physical_provisioner:ingest_data", "role:admin"),
    ("physical_provisioner:health_data", "role:admin"),
    ("physical_provisioner:validate_site_design", "role:admin"),
    // Not in the original (it had no /metrics): reading the Prometheus
    // exposition; `drydock serve --metrics-anonymous` lets anyone scrape.
    ("physical_provisioner:read_metrics", "role:admin"),
];

/// Why a policy file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file cannot be read.
    #[error("cannot read the policy file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a YAML/JSON mapping of rule names to strings.
    #[error("the policy file {path} is not a mapping of rule names to rule strings: {detail}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        detail: String,
    },
}

/// The caller as the policy sees it (compat §5.3 credentials).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// User id.
    pub user_id: Option<String>,
    /// User domain id.
    pub user_domain_id: Option<String>,
    /// Project id.
    pub project_id: Option<String>,
    /// Project domain id.
    pub project_domain_id: Option<String>,
    /// Roles.
    pub roles: Vec<String>,
    /// Whether the project is the admin project.
    pub is_admin_project: bool,
}

impl Credentials {
    fn value(&self, key: &str) -> Option<String> {
        match key {
            "user_id" => self.user_id.clone(),
            "user_domain_id" => self.user_domain_id.clone(),
            "project_id" => self.project_id.clone(),
            "project_domain_id" => self.project_domain_id.clone(),
            "is_admin_project" => Some(if self.is_admin_project { "True" } else { "False" }.into()),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Expr {
    Always,
    Never,
    Role(String),
    Rule(String),
    Generic(String, String),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

type Rules = HashMap<String, Option<Expr>>;

/// How often a policy file is checked for changes.
const RELOAD_CHECK: Duration = Duration::from_secs(2);

/// A policy file being watched: re-read when its modification time changes
/// (as oslo.policy does), keeping the old rules when the new file is unusable.
#[derive(Debug)]
struct Watched {
    path: PathBuf,
    /// Last check and the modification time the rules were read at.
    state: Mutex<(Instant, Option<SystemTime>)>,
}

/// The rules in force: defaults overridden by a policy file.
#[derive(Debug)]
pub struct Policy {
    rules: RwLock<Arc<Rules>>,
    file: Option<Watched>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy::with_overrides(&[])
    }
}

impl Policy {
    /// The defaults with `overrides` applied; an override that does not parse
    /// denies (as oslo.policy does).
    pub fn with_overrides(overrides: &[(String, String)]) -> Policy {
        Policy { rules: RwLock::new(Arc::new(rules_with(overrides))), file: None }
    }

    /// Read a YAML (or JSON) policy file of `"rule": "expression"` pairs; the
    /// file is re-read when it changes.
    pub fn from_file(path: &Path) -> Result<Policy, PolicyError> {
        let modified = std::fs::metadata(path).and_then(|meta| meta.modified()).ok();
        let rules = read_rules(path)?;
        Ok(Policy {
            rules: RwLock::new(Arc::new(rules)),
            file: Some(Watched { path: path.to_owned(), state: Mutex::new((Instant::now(), modified)) }),
        })
    }

    fn current(&self) -> Arc<Rules> {
        if let Some(watched) = &self.file {
            self.reload_if_changed(watched);
        }
        self.rules.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    fn reload_if_changed(&self, watched: &Watched) {
        let Ok(mut state) = watched.state.try_lock() else { return };
        if state.0.elapsed() < RELOAD_CHECK {
            return;
        }
        state.0 = Instant::now();
        let modified = std::fs::metadata(&watched.path).and_then(|meta| meta.modified()).ok();
        if modified == state.1 {
            return;
        }
        match read_rules(&watched.path) {
            Ok(rules) => {
                *self.rules.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(rules);
                state.1 = modified;
                tracing::info!(path = %watched.path.display(), "policy file reloaded");
            }
            Err(error) => tracing::warn!(error = %error, "policy file changed but cannot be used; keeping the previous rules"),
        }
    }

    /// Whether `rule` allows the caller. Unknown rules deny.
    pub fn allows(&self, rule: &str, credentials: &Credentials) -> bool {
        let rules = self.current();
        match rules.get(rule) {
            Some(Some(expr)) => eval(&rules, expr, credentials, 0),
            _ => false,
        }
    }
}

fn rules_with(overrides: &[(String, String)]) -> Rules {
    let mut rules: HashMap<String, Option<Expr>> = DEFAULT_RULES.iter().map(|(name, text)| ((*name).to_owned(), parse(text))).collect();
    for (name, text) in overrides {
        let parsed = parse(text);
        if parsed.is_none() {
            tracing::warn!(rule = %name, "policy rule does not parse; it denies every request");
        }
        rules.insert(name.clone(), parsed);
    }
    rules
}

fn read_rules(path: &Path) -> Result<Rules, PolicyError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read { path: shown.clone(), source })?;
    let docs = super::convert::yaml_documents(&text).map_err(|detail| PolicyError::Format { path: shown.clone(), detail })?;
    let mut overrides = Vec::new();
    match docs.first() {
        Some(serde_json::Value::Object(map)) => {
            for (key, value) in map {
                match value.as_str() {
                    Some(value) => overrides.push((key.clone(), value.to_owned())),
                    None => {
                        return Err(PolicyError::Format { path: shown, detail: format!("the rule {key} is not a string") });
                    }
                }
            }
        }
        None | Some(serde_json::Value::Null) => {}
        Some(_) => return Err(PolicyError::Format { path: shown, detail: "the document is not a mapping".into() }),
    }
    Ok(rules_with(&overrides))
}

fn eval(rules: &Rules, expr: &Expr, credentials: &Credentials, depth: usize) -> bool {
    if depth > 32 {
        return false;
    }
    match expr {
        Expr::Always => true,
        Expr::Never => false,
        Expr::Role(role) => credentials.roles.iter().any(|have| have.eq_ignore_ascii_case(role)),
        Expr::Rule(name) => match rules.get(name) {
            Some(Some(inner)) => eval(rules, inner, credentials, depth + 1),
            _ => false,
        },
        Expr::Generic(key, value) => {
            let Some(have) = credentials.value(key) else { return false };
            let wanted = match value.strip_prefix("%(").and_then(|rest| rest.strip_suffix(")s")) {
                // The target is the caller's own project and user (compat §5.3).
                Some(target) => match target {
                    "project_id" => credentials.project_id.clone(),
                    "user_id" => credentials.user_id.clone(),
                    _ => None,
                },
                None => Some(value.trim_matches(|c| c == '\'' || c == '"').to_owned()),
            };
            wanted.is_some_and(|wanted| wanted == have)
        }
        Expr::Not(inner) => !eval(rules, inner, credentials, depth + 1),
        Expr::And(items) => items.iter().all(|item| eval(rules, item, credentials, depth + 1)),
        Expr::Or(items) => items.iter().any(|item| eval(rules, item, credentials, depth + 1)),
    }
}

/// Split on whitespace, then peel leading `(` and trailing `)` off each
/// word, as oslo.policy does (so `%(project_id)s` stays whole).
fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for word in text.split_whitespace() {
        let opening = word.len() - word.trim_start_matches('(').len();
        let inner = &word[opening..];
        let closing = inner.len() - inner.trim_end_matches(')').len();
        let inner = &inner[..inner.len() - closing];
        out.extend(std::iter::repeat_n("(".to_owned(), opening));
        if !inner.is_empty() {
            out.push(inner.to_owned());
        }
        out.extend(std::iter::repeat_n(")".to_owned(), closing));
    }
    out
}

/// Parse a rule; `None` when it does not parse. An empty rule allows.
fn parse(text: &str) -> Option<Expr> {
    let tokens = tokens(text);
    if tokens.is_empty() {
        return Some(Expr::Always);
    }
    let mut position = 0;
    let expr = parse_or(&tokens, &mut position, 0)?;
    (position == tokens.len()).then_some(expr)
}

fn parse_or(tokens: &[String], position: &mut usize, depth: usize) -> Option<Expr> {
    let mut items = vec![parse_and(tokens, position, depth)?];
    while tokens.get(*position).is_some_and(|token| token == "or") {
        *position += 1;
        items.push(parse_and(tokens, position, depth)?);
    }
    Some(if items.len() == 1 { items.remove(0) } else { Expr::Or(items) })
}

fn parse_and(tokens: &[String], position: &mut usize, depth: usize) -> Option<Expr> {
    let mut items = vec![parse_not(tokens, position, depth)?];
    while tokens.get(*position).is_some_and(|token| token == "and") {
        *position += 1;
        items.push(parse_not(tokens, position, depth)?);
    }
    Some(if items.len() == 1 { items.remove(0) } else { Expr::And(items) })
}

fn parse_not(tokens: &[String], position: &mut usize, depth: usize) -> Option<Expr> {
    if depth > 64 {
        return None;
    }
    let token = tokens.get(*position)?;
    *position += 1;
    match token.as_str() {
        "not" => Some(Expr::Not(Box::new(parse_not(tokens, position, depth + 1)?))),
        "(" => {
            let inner = parse_or(tokens, position, depth + 1)?;
            (tokens.get(*position)? == ")").then(|| *position += 1)?;
            Some(inner)
        }
        "@" => Some(Expr::Always),
        "!" => Some(Expr::Never),
        check => {
            let (kind, value) = check.split_once(':')?;
            Some(match kind {
                "role" => Expr::Role(value.to_owned()),
                "rule" => Expr::Rule(value.to_owned()),
                _ => Expr::Generic(kind.to_owned(), value.to_owned()),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(roles: &[&str]) -> Credentials {
        Credentials {
            roles: roles.iter().map(|role| (*role).to_owned()).collect(),
            project_id: Some("p1".into()),
            user_id: Some("u1".into()),
            ..Credentials::default()
        }
    }

    #[test]
    fn defaults_need_admin() {
        let policy = Policy::default();
        assert!(policy.allows("physical_provisioner:read_task", &creds(&["Admin"])));
        assert!(!policy.allows("physical_provisioner:read_task", &creds(&["reader"])));
        assert!(!policy.allows("physical_provisioner:unknown", &creds(&["admin"])));
        assert!(policy.allows("admin_required", &creds(&["admin"])));
    }

    #[test]
    fn overrides_use_the_rule_language() {
        let policy = Policy::with_overrides(&[
            ("physical_provisioner:read_task".into(), "rule:admin_required or (role:reader and not role:banned)".into()),
            ("physical_provisioner:read_data".into(), "project_id:%(project_id)s and user_id:u1".into()),
            ("physical_provisioner:health_data".into(), "@".into()),
            ("physical_provisioner:delete_tasks".into(), "!".into()),
            ("physical_provisioner:ingest_data".into(), "role:admin and (".into()),
        ]);
        assert!(policy.allows("physical_provisioner:read_task", &creds(&["reader"])));
        assert!(!policy.allows("physical_provisioner:read_task", &creds(&["reader", "banned"])));
        assert!(policy.allows("physical_provisioner:read_task", &creds(&["admin"])));
        assert!(policy.allows("physical_provisioner:read_data", &creds(&[])));
        assert!(policy.allows("physical_provisioner:health_data", &creds(&[])));
        assert!(!policy.allows("physical_provisioner:delete_tasks", &creds(&["admin"])));
        assert!(!policy.allows("physical_provisioner:ingest_data", &creds(&["admin"])));
    }
}
