//! The node-side boot-action agent and the cloud-init user data that
//! delivers it (a Rust addition; compat: api spec §1.4.3, §4.7.2).
//!
//! Pure text generation: a POSIX `sh` script that, on the deployed node,
//! fetches its `files` and `units` tarballs with `curl` (key from a file,
//! passed to curl through a header file so it never appears on a command
//! line), unpacks them, enables and starts the units, and reports the outcome
//! of every signalling boot action; and the `#cloud-config` that installs the
//! node's packages, writes the key, the report URL and the script, and runs
//! it. The core only formats URLs: it knows nothing of the server serving
//! them.

use crate::encode::percent_encode;
use base64::Engine as _;

use super::IdentityKey;
use super::packages::{PackageList, cloud_config};
use crate::ids::BootActionId;

/// Where the node's identity key is written (mode 0600).
pub const KEY_PATH: &str = "/etc/drydock/bootaction-key";
/// Where the status-report base URL is written.
pub const URL_PATH: &str = "/etc/drydock/bootaction-url";
/// Where the agent script is written and run from.
pub const AGENT_PATH: &str = "/usr/local/sbin/drydock-bootactions";

/// A boot action the agent reports on (only signalling ones: the others
/// are final from creation and would get 409).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportedAction {
    /// The instance id.
    pub action_id: BootActionId,
    /// The boot action's document name (for messages only).
    pub name: String,
}

/// Quote `text` for POSIX `sh` (single quotes, `'` as `'\''`).
fn sh_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The boot-action API base (`report_url` without its trailing `/`):
/// assets are under `<base>/nodes/<node>/{units,files}`, statuses go to
/// `<base>/<action_id>`.
pub fn api_base(report_url: &str) -> &str {
    report_url.trim_end_matches('/')
}

/// The agent script for `node`. `report_url` is the `[bootactions]
/// report_url` (`…/api/v1.0/bootactions/`); `actions` are the signalling
/// boot actions of this deployment, in design order.
///
/// On the node, `DRYDOCK_BOOTACTION_ROOT` (default `/`) is where the tarballs
/// are unpacked and where the key file is looked for; `systemctl` is taken
/// from `PATH`. The script exits non-zero when anything failed.
pub fn agent_script(node: &str, report_url: &str, actions: &[ReportedAction]) -> String {
    let base = api_base(report_url);
    let mut reports = String::new();
    for action in actions {
        reports.push_str(&format!("    post {} {} \"$1\" || rc=1\n", sh_quote(&action.action_id.to_string()), sh_quote(&action.name)));
    }
    if reports.is_empty() {
        reports.push_str("    :\n");
    }
    format!(
        r#"#!/bin/sh
# Drydock boot-action agent for node {node_comment} (generated at deployment).
# Fetches the node's boot-action files and units, unpacks them under
# $DRYDOCK_BOOTACTION_ROOT (default /), enables and starts the units, and
# reports the outcome of each signalling boot action to Drydock.
set -u
umask 077
node={node}
base_url={base}
root="${{DRYDOCK_BOOTACTION_ROOT:-/}}"
key_file="${{root%/}}{key_path}"
work=$(mktemp -d) || exit 1
trap 'rm -rf "$work"' EXIT
failed=''

note() {{ printf 'drydock-bootactions: %s\n' "$1" >&2; }}
fail() {{ note "$1"; [ -n "$failed" ] || failed=$1; }}

key=$(tr -d ' \t\r\n' < "$key_file") || {{ note "cannot read $key_file"; exit 1; }}
[ -n "$key" ] || {{ note "$key_file is empty"; exit 1; }}
printf 'X-Bootaction-Key: %s\n' "$key" > "$work/key-header"
unset key

# post <action id> <action name> <json body>: 409 means already final.
post() {{
    code=$(curl -sS -o "$work/response" -w '%{{http_code}}' -m 60 --retry 5 --retry-delay 2 --retry-connrefused \
        -X POST -H @"$work/key-header" -H 'Content-Type: application/json' --data "$3" "$base_url/$1") || code=000
    case "$code" in
        2??|409) return 0 ;;
        *) note "status report for boot action $2 got HTTP $code"; return 1 ;;
    esac
}}

report_all() {{
    rc=0
{reports}    return $rc
}}

# fetch <units|files>: download and unpack one tarball, list its members.
fetch() {{
    if ! curl -fsS -m 300 --retry 10 --retry-delay 3 --retry-connrefused -H @"$work/key-header" \
        -o "$work/$1.tar.gz" "$base_url/nodes/$node_path/$1"; then
        fail "cannot fetch $1"
        return 1
    fi
    if ! tar -tzf "$work/$1.tar.gz" > "$work/$1.list"; then
        fail "cannot read the $1 archive"
        return 1
    fi
    if ! tar -xzpf "$work/$1.tar.gz" -C "$root"; then
        fail "cannot unpack $1"
        return 1
    fi
}}

node_path={node_path}
report_all '{{"details": [{{"message": "Bootaction starting execution.", "error": false}}]}}'

files=0
units=0
if fetch files; then
    files=$(grep -c . "$work/files.list")
fi
if fetch units; then
    units=$(grep -c . "$work/units.list")
    if [ "$units" -gt 0 ]; then
        if command -v systemctl > /dev/null 2>&1; then
            systemctl daemon-reload || fail "systemctl daemon-reload failed"
            while IFS= read -r member; do
                unit=${{member##*/}}
                [ -n "$unit" ] || continue
                if systemctl enable "$unit"; then
                    systemctl start --no-block "$unit" || fail "cannot start $unit"
                else
                    fail "cannot enable $unit"
                fi
            done < "$work/units.list"
        else
            fail "systemctl not found: $units units not enabled"
        fi
    fi
fi

if [ -z "$failed" ]; then
    report_all "{{\"status\": \"success\", \"details\": [{{\"message\": \"Bootaction execution successful.\", \"error\": false}}, {{\"message\": \"$files files installed, $units units enabled and started on $node.\", \"error\": false}}]}}"
    exit $?
fi
reason=$(printf '%s' "$failed" | tr -d '"\\' | tr -c '[:print:]' ' ')
report_all "{{\"status\": \"failure\", \"details\": [{{\"message\": \"Bootaction execution failed.\", \"error\": true}}, {{\"message\": \"$reason\", \"error\": true}}]}}"
exit 1
"#,
        node_comment = node.replace(['\n', '\r'], " "),
        node = sh_quote(node),
        base = sh_quote(base),
        key_path = KEY_PATH,
        node_path = sh_quote(&percent_encode(node)),
    )
}

/// The node's cloud-init user data: its boot-action packages (compat
/// §4.7.2), then `write_files` with the key (0600), the report URL and the
/// agent script (0755, base64), and a `runcmd` running the agent.
pub fn user_data(packages: &PackageList, key: &IdentityKey, report_url: &str, agent: &str) -> String {
    let json = |text: &str| serde_json::Value::String(text.to_owned()).to_string();
    let mut out = cloud_config(packages);
    out.push_str("write_files:\n");
    out.push_str(&format!("- path: {KEY_PATH}\n  permissions: '0600'\n  content: {}\n", key.to_hex()));
    out.push_str(&format!("- path: {URL_PATH}\n  permissions: '0644'\n  content: {}\n", json(report_url)));
    out.push_str(&format!(
        "- path: {AGENT_PATH}\n  permissions: '0755'\n  encoding: b64\n  content: {}\n",
        base64::engine::general_purpose::STANDARD.encode(agent.as_bytes())
    ));
    out.push_str(&format!("runcmd:\n- [{}]\n", json(AGENT_PATH)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(name: &str) -> ReportedAction {
        ReportedAction { action_id: "01M885B34ZHX8R0AT5ZPMV090N".parse().expect("ulid"), name: name.into() }
    }

    #[test]
    fn script_uses_quoted_urls_and_reports_each_signalling_action() {
        let script = agent_script("node'1", "http://drydock:9000/api/v1.0/bootactions/", &[action("hello")]);
        assert!(script.starts_with("#!/bin/sh\n"));
        assert!(script.contains("node='node'\\''1'\n"), "{script}");
        assert!(script.contains("node_path='node%271'\n"));
        assert!(script.contains("base_url='http://drydock:9000/api/v1.0/bootactions'\n"));
        assert!(script.contains("    post '01M885B34ZHX8R0AT5ZPMV090N' 'hello' \"$1\" || rc=1\n"));
        let uses: Vec<_> = script.lines().filter(|line| line.replace("$key_file", "").contains("$key")).map(str::trim).collect();
        assert_eq!(
            uses,
            [
                r#"[ -n "$key" ] || { note "$key_file is empty"; exit 1; }"#,
                r#"printf 'X-Bootaction-Key: %s\n' "$key" > "$work/key-header""#
            ],
            "the key only goes to the header file (printf is a shell builtin), never on a command line"
        );
        assert!(script.contains("-H @\"$work/key-header\""));
        let none = agent_script("n1", "http://x/", &[]);
        assert!(none.contains("report_all() {\n    rc=0\n    :\n    return $rc\n}"), "{none}");
    }

    #[test]
    fn user_data_keeps_the_key_delivery_and_runs_the_agent() {
        let key = IdentityKey::from_bytes([0xab; 32]);
        let mut packages = PackageList::new();
        packages.insert("curl".into(), None);
        let text = user_data(&packages, &key, "http://d/api/v1.0/bootactions/", "#!/bin/sh\necho hi\n");
        assert!(text.starts_with("#cloud-config\npackages:\n- \"curl\"\nwrite_files:\n"), "{text}");
        assert!(text.contains(&format!("- path: /etc/drydock/bootaction-key\n  permissions: '0600'\n  content: {}\n", "ab".repeat(32))));
        assert!(text.contains("  content: \"http://d/api/v1.0/bootactions/\"\n"));
        assert!(text.contains("  encoding: b64\n  content: IyEvYmluL3NoCmVjaG8gaGkK\n"));
        assert!(text.ends_with("runcmd:\n- [\"/usr/local/sbin/drydock-bootactions\"]\n"));
    }
}
