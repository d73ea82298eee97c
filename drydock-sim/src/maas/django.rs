//! The texts MaaS's Django validators produce, for the emulator's error
//! answers: Python's `repr` of a string, MaaS's host and domain name checks
//! (`maasserver/utils/dns.py`) and Django's uniqueness message. Each
//! function returns the first message MaaS would give, as MaaS 2.9.2 words
//! it (drydock-sim/docs/maas-errors.md lists the sources).

/// Python's `repr()` of a string: single quotes, or double quotes when the
/// text holds a single quote and no double quote; backslashes escaped.
pub(crate) fn py_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// `validate_domain_name`: the first problem of a DNS name, if any.
pub(crate) fn domain_name_problem(name: &str) -> Option<String> {
    if name.len() > 255 {
        return Some("Hostname is too long.  Maximum allowed is 255 characters.".into());
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Some("DNS name contains an empty label.".into());
        }
        if label.len() > 63 {
            return Some(format!("Label is too long: {}.  Maximum allowed is 63 characters.", py_repr(label)));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Some(format!("Label cannot start or end with hyphen: {}.", py_repr(label)));
        }
        if !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Some(format!("Label contains disallowed characters: {}.", py_repr(label)));
        }
    }
    None
}

/// `validate_hostname`: the first problem of a node's hostname, if any.
pub(crate) fn hostname_problem(hostname: &str) -> Option<String> {
    if hostname.len() > 255 {
        return Some("Hostname is too long.  Maximum allowed is 255 characters.".into());
    }
    let host = hostname.split('.').next().unwrap_or("");
    if host.contains('_') {
        return Some(format!("Host label cannot contain underscore: {}.", py_repr(host)));
    }
    domain_name_problem(hostname)
}

/// The domain-model check `validate_domain_name` of `models/domain.py`
/// (one regular expression): `Invalid domain name: <name>.`
pub(crate) fn dns_zone_problem(name: &str) -> Option<String> {
    let label_ok = |label: &str| {
        let bytes = label.as_bytes();
        !bytes.is_empty()
            && bytes.len() <= 64
            && bytes[0].is_ascii_alphanumeric()
            && bytes[bytes.len() - 1].is_ascii_alphanumeric()
            && bytes.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
    };
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    let ok = name.len() <= 255 && !trimmed.is_empty() && trimmed.split('.').all(label_ok);
    (!ok).then(|| format!("Invalid domain name: {name}."))
}

/// MaaS's `BytesField` (`^-?[0-9]+([KkMmGgTtPpEe]{1})?$`, SI suffixes via
/// `machine_readable_bytes`): the byte count, or None ("Enter a valid
/// value.").
pub(crate) fn bytes_field(text: &str) -> Option<i128> {
    let (number, factor) = match text.chars().last()?.to_ascii_uppercase() {
        'K' => (&text[..text.len() - 1], 1_000i128),
        'M' => (&text[..text.len() - 1], 1_000_000),
        'G' => (&text[..text.len() - 1], 1_000_000_000),
        'T' => (&text[..text.len() - 1], 1_000_000_000_000),
        'P' => (&text[..text.len() - 1], 1_000_000_000_000_000),
        'E' => (&text[..text.len() - 1], 1_000_000_000_000_000_000),
        _ => (text, 1),
    };
    let unsigned = number.strip_prefix('-').unwrap_or(number);
    if unsigned.is_empty() || !unsigned.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    number.parse::<i128>().ok().map(|n| n.saturating_mul(factor))
}

/// Django's `MinValueValidator` / `MaxValueValidator` texts.
pub(crate) fn at_least(min: impl std::fmt::Display) -> String {
    format!("Ensure this value is greater than or equal to {min}.")
}

/// See [`at_least`].
pub(crate) fn at_most(max: impl std::fmt::Display) -> String {
    format!("Ensure this value is less than or equal to {max}.")
}

/// MaaS's `UUID4Field` (a v4 UUID, dashes optional).
pub(crate) fn valid_uuid4(text: &str) -> bool {
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    (32..=36).contains(&text.len())
        && hex.len() == 32
        && hex.chars().all(|c| c.is_ascii_hexdigit())
        && hex.as_bytes()[12] == b'4'
        && matches!(hex.as_bytes()[16].to_ascii_lowercase(), b'8' | b'9' | b'a' | b'b')
}

/// Django's uniqueness message: `<Model> with this <Field> already exists.`
pub(crate) fn already_exists(model: &str, field: &str) -> String {
    format!("{model} with this {field} already exists.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repr_quotes_like_python() {
        assert_eq!(py_repr("node_01"), "'node_01'");
        assert_eq!(py_repr("it's"), "\"it's\"");
        assert_eq!(py_repr("a'b\"c"), "'a\\'b\"c'");
    }

    #[test]
    fn hostnames_are_checked_in_maas_order() {
        assert_eq!(hostname_problem("node01"), None);
        assert_eq!(hostname_problem("node01.maas"), None);
        assert_eq!(hostname_problem("node_01").as_deref(), Some("Host label cannot contain underscore: 'node_01'."));
        assert_eq!(hostname_problem("-node").as_deref(), Some("Label cannot start or end with hyphen: '-node'."));
        assert_eq!(hostname_problem("no de").as_deref(), Some("Label contains disallowed characters: 'no de'."));
        assert_eq!(hostname_problem("a..b").as_deref(), Some("DNS name contains an empty label."));
    }

    #[test]
    fn byte_sizes_use_si_suffixes() {
        assert_eq!(bytes_field("4194304"), Some(4_194_304));
        assert_eq!(bytes_field("10G"), Some(10_000_000_000));
        assert_eq!(bytes_field("1.5G"), None);
        assert_eq!(bytes_field("50%"), None);
        assert!(valid_uuid4("5d1a0000-0000-4000-8000-000000000001"));
        assert!(!valid_uuid4("not-a-uuid"));
    }

    #[test]
    fn domain_names_follow_the_zone_pattern() {
        assert_eq!(dns_zone_problem("example.com"), None);
        assert_eq!(dns_zone_problem("example.com."), None);
        assert_eq!(dns_zone_problem("bad_name").as_deref(), Some("Invalid domain name: bad_name."));
        assert_eq!(dns_zone_problem("-x").as_deref(), Some("Invalid domain name: -x."));
    }
}
