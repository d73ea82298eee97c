//! libvirt connection URIs (`driver[+transport]://[user@]host[:port]/path[?query]`,
//! <https://libvirt.org/uri.html>): the scheme check the driver applies and
//! the redacted form that logs, errors and call limits use, which never
//! carries the user-info part (a user name, or worse a password) or the
//! query (key file paths and the like).

/// The only scheme designs may use (compat: drivers spec §6.1, DD4002).
pub const SSH_SCHEME: &str = "qemu+ssh";

/// libvirt's built-in test hypervisor, accepted only when the driver is
/// configured to allow test URIs (`drydock serve --libvirt-allow-test-uris`:
/// labs and tests only).
pub const TEST_SCHEME: &str = "test";

/// A URI's scheme: the text before `://` (`None` without one).
pub fn scheme(uri: &str) -> Option<&str> {
    uri.split_once("://").map(|(scheme, _)| scheme).filter(|scheme| !scheme.is_empty())
}

/// `(authority, rest)`: the text between `://` and the next `/`, `?` or
/// `#`, and what follows it.
fn split_authority(uri: &str) -> Option<(&str, &str)> {
    let (_, after) = uri.split_once("://")?;
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    Some(after.split_at(end))
}

/// The user-info part of the URI (`user` or `user:password`), if any.
pub fn userinfo(uri: &str) -> Option<&str> {
    let (authority, _) = split_authority(uri)?;
    authority.rsplit_once('@').map(|(userinfo, _)| userinfo).filter(|userinfo| !userinfo.is_empty())
}

/// The password in the user-info part (`user:password@`), if any.
pub fn password(uri: &str) -> Option<&str> {
    userinfo(uri).and_then(|userinfo| userinfo.split_once(':')).map(|(_, password)| password).filter(|password| !password.is_empty())
}

/// The URI without its user-info, query and fragment:
/// `qemu+ssh://virtmgr@172.24.1.1/system?keyfile=k` is
/// `qemu+ssh://172.24.1.1/system`. Text that is not a URI is replaced by
/// `<invalid libvirt URI>` rather than repeated.
pub fn redacted(uri: &str) -> String {
    let (Some(scheme), Some((authority, rest))) = (scheme(uri), split_authority(uri)) else {
        return "<invalid libvirt URI>".to_owned();
    };
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let path = rest.split(['?', '#']).next().unwrap_or_default();
    format!("{scheme}://{host}{path}")
}

/// `text` with `uri` replaced by its redacted form and any password it
/// carries replaced by `***` (for libvirt's own error messages).
pub fn scrub(text: &str, uri: &str) -> String {
    let mut text = if uri.is_empty() { text.to_owned() } else { text.replace(uri, &redacted(uri)) };
    if let Some(password) = password(uri) {
        text = text.replace(password, "***");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes() {
        assert_eq!(scheme("qemu+ssh://virtmgr@172.24.1.1/system"), Some("qemu+ssh"));
        assert_eq!(scheme("test:///default"), Some("test"));
        assert_eq!(scheme("http://dummy@somehost/system"), Some("http"));
        assert_eq!(scheme("qemu:///system"), Some("qemu"));
        assert_eq!(scheme("somehost/system"), None);
        assert_eq!(scheme("://x"), None);
    }

    #[test]
    fn redaction_drops_user_info_query_and_fragment() {
        assert_eq!(redacted("qemu+ssh://virtmgr@172.24.1.1/system"), "qemu+ssh://172.24.1.1/system");
        assert_eq!(redacted("qemu+ssh://u:s3cret@[::1]:2222/system?keyfile=/k&no_tty=1"), "qemu+ssh://[::1]:2222/system");
        assert_eq!(redacted("qemu+ssh://host"), "qemu+ssh://host");
        assert_eq!(redacted("test:///tmp/nodes.xml"), "test:///tmp/nodes.xml");
        assert_eq!(redacted("test:///default#x"), "test:///default");
        assert_eq!(redacted("not a uri with s3cret"), "<invalid libvirt URI>");
        assert_eq!(userinfo("qemu+ssh://u:s3cret@host/system"), Some("u:s3cret"));
        assert_eq!(userinfo("qemu+ssh://host/system?user=x@y"), None);
        assert_eq!(password("qemu+ssh://u:s3cret@host/system"), Some("s3cret"));
        assert_eq!(password("qemu+ssh://virtmgr@host/system"), None);
    }

    #[test]
    fn scrubbing_libvirt_messages() {
        let uri = "qemu+ssh://u:s3cret@host/system";
        let text = format!("Cannot recv data for {uri}: ssh to u:s3cret failed");
        let scrubbed = scrub(&text, uri);
        assert!(!scrubbed.contains("s3cret"), "{scrubbed}");
        assert!(scrubbed.contains("qemu+ssh://host/system"), "{scrubbed}");
    }
}
