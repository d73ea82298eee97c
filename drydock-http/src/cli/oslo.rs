//! `drydock serve --config-file drydock.conf`: the original's oslo.config
//! INI file (compat §6), mapped onto the serve options so an existing
//! `/etc/drydock/drydock.conf` (and the Helm chart's rendering of
//! `conf.drydock`) works as it is. Options with no counterpart here
//! (logging names, pool sizes, plugin class paths, …) are reported, not
//! fatal.

use std::path::Path;

/// How an oslo value becomes a serve option value.
#[derive(Debug, Clone, Copy)]
enum Unit {
    /// As written.
    Text,
    /// Whole seconds → a duration.
    Seconds,
    /// Whole minutes → a duration.
    Minutes,
    /// oslo booleans (`true`/`yes`/`on`/`1`, …) → `true`/`false`.
    Bool,
    /// An SQLAlchemy URL → a PostgreSQL URL.
    Database,
    /// A path relative to the configuration file's directory.
    Path,
}

/// `(group, option, serve option, unit)`.
const MAP: &[(&str, &str, &str, Unit)] = &[
    ("DEFAULT", "poll_interval", "poll-interval", Unit::Seconds),
    ("DEFAULT", "leader_grace_period", "leader-grace-period", Unit::Seconds),
    ("DEFAULT", "leadership_claim_interval", "leadership-claim-interval", Unit::Seconds),
    ("database", "database_connect_string", "store", Unit::Database),
    ("bootactions", "report_url", "bootaction-report-url", Unit::Text),
    ("maasdriver", "maas_api_url", "maas-api-url", Unit::Text),
    ("maasdriver", "maas_api_key", "maas-api-key", Unit::Text),
    ("maasdriver", "poll_interval", "status-poll", Unit::Seconds),
    ("timeouts", "drydock_timeout", "drydock-timeout", Unit::Minutes),
    ("timeouts", "identify_node", "identify-node-timeout", Unit::Minutes),
    ("timeouts", "configure_hardware", "configure-hardware-timeout", Unit::Minutes),
    ("timeouts", "deploy_node", "deploy-node-timeout", Unit::Minutes),
    ("timeouts", "destroy_node", "destroy-node-timeout", Unit::Minutes),
    ("timeouts", "bootaction_final_status", "bootaction-final-status-timeout", Unit::Minutes),
    ("timeouts", "relabel_node", "relabel-node-timeout", Unit::Minutes),
    ("redfish_driver", "use_ssl", "redfish-use-ssl", Unit::Bool),
    ("keystone_authtoken", "auth_url", "keystone-url", Unit::Text),
    ("keystone_authtoken", "username", "keystone-username", Unit::Text),
    ("keystone_authtoken", "password", "keystone-password", Unit::Text),
    ("keystone_authtoken", "project_id", "keystone-project-id", Unit::Text),
    ("keystone_authtoken", "project_name", "keystone-project-name", Unit::Text),
    ("keystone_authtoken", "project_domain_name", "keystone-project-domain-name", Unit::Text),
    ("keystone_authtoken", "user_domain_name", "keystone-user-domain-name", Unit::Text),
    ("keystone_authtoken", "token_cache_time", "token-cache-time", Unit::Text),
    ("oslo_policy", "policy_file", "policy-file", Unit::Path),
];

/// The mapping for the configuration reference: `(group, option, serve
/// option, how the value is read)`.
pub fn mapping() -> impl Iterator<Item = (&'static str, &'static str, &'static str, &'static str)> {
    MAP.iter().map(|(group, key, option, unit)| {
        let unit = match unit {
            Unit::Text => "as written",
            Unit::Seconds => "seconds",
            Unit::Minutes => "minutes",
            Unit::Bool => "boolean",
            Unit::Database => "SQLAlchemy URL (PostgreSQL; the `+driver` is dropped)",
            Unit::Path => "path, relative to the file; ignored when missing",
        };
        (*group, *key, *option, unit)
    })
}

/// What a configuration file sets.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Mapped {
    /// Serve options (long names) and their values, in file order.
    pub options: Vec<(String, String)>,
    /// `group.option` entries with no counterpart (not an error).
    pub ignored: Vec<String>,
}

/// `(group, option, value, line)` entries of an oslo INI text.
fn entries(text: &str, name: &str) -> Result<Vec<(String, String, String, usize)>, String> {
    let mut out = Vec::new();
    let mut group = "DEFAULT".to_owned();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if raw.starts_with([' ', '\t']) {
            return Err(format!("{name}:{}: continuation lines are not supported", index + 1));
        }
        if let Some(rest) = line.strip_prefix('[') {
            let section = rest.strip_suffix(']').ok_or_else(|| format!("{name}:{}: unterminated section header", index + 1))?;
            group = section.trim().to_owned();
            continue;
        }
        let (key, value) = line.split_once(['=', ':']).ok_or_else(|| format!("{name}:{}: expected `option = value`", index + 1))?;
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(value);
        out.push((group.clone(), key.trim().replace('-', "_"), value.to_owned(), index + 1));
    }
    Ok(out)
}

fn convert(unit: Unit, value: &str, base: &Path) -> Result<String, String> {
    let number = || value.parse::<u64>().map_err(|_| format!("{value:?} is not a whole number"));
    Ok(match unit {
        Unit::Text => value.to_owned(),
        Unit::Seconds => format!("{}s", number()?),
        Unit::Minutes => format!("{}m", number()?),
        Unit::Bool => match value.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => "true".into(),
            "false" | "no" | "off" | "0" => "false".into(),
            _ => return Err(format!("{value:?} is not a boolean")),
        },
        Unit::Database => {
            let (scheme, rest) = value.split_once("://").ok_or_else(|| format!("{value:?} is not a database URL"))?;
            match scheme.split('+').next() {
                Some("postgresql" | "postgres") => format!("postgresql://{rest}"),
                _ => return Err(format!("only PostgreSQL databases are supported, not {scheme}")),
            }
        }
        Unit::Path => base.join(value).display().to_string(),
    })
}

/// Read an oslo configuration file.
pub fn read(path: &Path) -> Result<Mapped, String> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|error| format!("cannot read the configuration {name}: {error}"))?;
    map(&text, &name, path.parent().unwrap_or(Path::new(".")))
}

/// Map an oslo configuration text (`name` for messages, relative paths
/// against `base`).
pub fn map(text: &str, name: &str, base: &Path) -> Result<Mapped, String> {
    let mut mapped = Mapped::default();
    for (group, key, value, line) in entries(text, name)? {
        // oslo matches group names exactly, except DEFAULT.
        let same_group = |g: &str| if g == "DEFAULT" { group.eq_ignore_ascii_case(g) } else { group == g };
        let target = MAP.iter().find(|(g, k, _, _)| same_group(g) && *k == key);
        match target {
            Some((_, _, option, unit)) => {
                if value.is_empty() {
                    continue;
                }
                let value = convert(*unit, &value, base).map_err(|error| format!("{name}:{line}: [{group}] {key}: {error}"))?;
                if matches!(unit, Unit::Path) && !Path::new(&value).exists() {
                    // oslo.policy runs on its defaults without the file.
                    mapped.ignored.push(format!("{group}.{key} (no file {value})"));
                    continue;
                }
                mapped.options.retain(|(existing, _)| existing != option);
                mapped.options.push(((*option).to_owned(), value));
            }
            None => mapped.ignored.push(format!("{group}.{key}")),
        }
    }
    Ok(mapped)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHART: &str = "\
[DEFAULT]
poll_interval = 10
leader_grace_period = 300

[database]
database_connect_string = postgresql+psycopg2://drydock:secret@postgresql.ucp:5432/drydock
pool_size = 15

[keystone_authtoken]
auth_type = password
auth_url = http://keystone-api.ucp:80/v3
username = drydock
password = \"password\"
project_id = 3fa0c0e4
project_name = service
project_domain_name = default
user_domain_name = default
delay_auth_decision = true

[logging]
log_level = DEBUG

[maasdriver]
maas_api_url = http://maas-region-ui.ucp:80/MAAS/api/2.0/
maas_api_key =
poll_interval = 10

[plugins]
oob_driver = drydock_provisioner.drivers.oob.pyghmi_driver.PyghmiDriver

[timeouts]
deploy_node = 60
bootaction_final_status = 15

[redfish_driver]
use_ssl = False
; comment
[oslo_policy]
policy_file = policy.yaml
";

    #[test]
    fn the_charts_drydock_conf_maps_onto_serve_options() {
        let mapped = map(CHART, "drydock.conf", Path::new("/nonexistent")).expect("maps");
        let get = |option: &str| mapped.options.iter().find(|(o, _)| o == option).map(|(_, v)| v.as_str());
        assert_eq!(get("poll-interval"), Some("10s"));
        assert_eq!(get("leader-grace-period"), Some("300s"));
        assert_eq!(get("store"), Some("postgresql://drydock:secret@postgresql.ucp:5432/drydock"));
        assert_eq!(get("keystone-url"), Some("http://keystone-api.ucp:80/v3"));
        assert_eq!(get("keystone-password"), Some("password"), "quotes are removed");
        assert_eq!(get("keystone-project-id"), Some("3fa0c0e4"));
        assert_eq!(get("keystone-project-name"), Some("service"));
        assert_eq!(get("maas-api-url"), Some("http://maas-region-ui.ucp:80/MAAS/api/2.0/"));
        assert_eq!(get("maas-api-key"), None, "an empty value sets nothing (MAAS_API_KEY may)");
        assert_eq!(get("status-poll"), Some("10s"));
        assert_eq!(get("deploy-node-timeout"), Some("60m"));
        assert_eq!(get("redfish-use-ssl"), Some("false"));
        assert_eq!(get("policy-file"), None, "a missing policy file leaves the defaults");
        for ignored in ["database.pool_size", "keystone_authtoken.auth_type", "logging.log_level", "plugins.oob_driver"] {
            assert!(mapped.ignored.iter().any(|entry| entry == ignored), "{ignored} in {:?}", mapped.ignored);
        }
    }

    #[test]
    fn bad_values_name_the_file_line_and_option() {
        let error = map("[timeouts]\ndeploy_node = soon\n", "d.conf", Path::new(".")).expect_err("not a number");
        assert_eq!(error, "d.conf:2: [timeouts] deploy_node: \"soon\" is not a whole number");
        let error = map("[database]\ndatabase_connect_string = mysql://x/y\n", "d.conf", Path::new(".")).expect_err("mysql");
        assert!(error.contains("only PostgreSQL"), "{error}");
        assert!(map("[DEFAULT\n", "d.conf", Path::new(".")).expect_err("header").contains("d.conf:1"));
        assert!(map("just words\n", "d.conf", Path::new(".")).expect_err("no =").contains("expected `option = value`"));
    }
}
