//! Size strings (compat: site-design spec §3.9). Two parsers exist upstream
//! and both are needed: the validation parser (DD1001, decimal units only,
//! leading match) and the driver parser (MaaS storage: decimal and binary
//! units, `%` of a context, `>` for "all remaining space").

/// Result of the validation parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValidationSize {
    /// A size in bytes.
    Bytes(u64),
    /// No `<digits><unit>` at the start.
    InvalidFormat,
    /// Unit letters the original has no multiplier for (`Gb`, `b`, `mB`);
    /// the original crashes, we report it.
    UnknownUnit(String),
}

/// The validation parser: `^\d+[mMbBgGtT]{1,2}` with decimal multipliers.
pub fn parse_validation_size(text: &str) -> ValidationSize {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return ValidationSize::InvalidFormat;
    }
    let unit: String = text[digits..].chars().take(2).take_while(|c| "mMbBgGtT".contains(*c)).collect();
    if unit.is_empty() {
        return ValidationSize::InvalidFormat;
    }
    let multiplier: u64 = match unit.as_str() {
        "m" | "M" | "mb" | "MB" => 1_000_000,
        "g" | "G" | "gb" | "GB" => 1_000_000_000,
        "t" | "T" | "tb" | "TB" => 1_000_000_000_000,
        _ => return ValidationSize::UnknownUnit(unit),
    };
    match text[..digits].parse::<u64>().ok().and_then(|number| number.checked_mul(multiplier)) {
        Some(bytes) => ValidationSize::Bytes(bytes),
        None => ValidationSize::InvalidFormat,
    }
}

/// Space available when sizing against a device or volume group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeContext {
    /// Total size of the device or VG.
    pub total: u64,
    /// Space still free.
    pub available: u64,
}

/// Why a driver size string is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SizeError {
    /// Not `[>]<digits><unit>`.
    #[error("invalid size format '{0}'")]
    InvalidFormat(String),
    /// `%` or `>` without a device or volume group to size against.
    #[error("size '{0}' needs a device or volume group context")]
    NeedsContext(String),
    /// More than the context has.
    #[error("not enough storage for size '{text}': {requested} bytes requested, {available} available")]
    NotEnoughStorage {
        /// The size string.
        text: String,
        /// Bytes requested.
        requested: u64,
        /// Bytes available.
        available: u64,
    },
}

/// 4 MiB kept back for the partition table when sizing with `>`.
pub const PARTITION_TABLE_RESERVE: u64 = 4 * 1024 * 1024;

/// The driver parser (`calculate_bytes` upstream).
pub fn calculate_bytes(text: &str, context: Option<SizeContext>) -> Result<u64, SizeError> {
    let invalid = || SizeError::InvalidFormat(text.to_owned());
    let (greater, rest) = match text.strip_prefix('>') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(invalid());
    }
    let unit: String = rest[digits..].chars().take(3).take_while(|c| "mMbBgGtTi%".contains(*c)).collect();
    let number: u64 = rest[..digits].parse().map_err(|_| invalid())?;
    let bytes = match unit.as_str() {
        "m" | "M" | "mb" | "MB" => number.checked_mul(1_000_000),
        "g" | "G" | "gb" | "GB" => number.checked_mul(1_000_000_000),
        "t" | "T" | "tb" | "TB" => number.checked_mul(1_000_000_000_000),
        "mi" | "Mi" | "mib" | "MiB" => number.checked_mul(1 << 20),
        "gi" | "Gi" | "gib" | "GiB" => number.checked_mul(1 << 30),
        "ti" | "Ti" | "tib" | "TiB" => number.checked_mul(1 << 40),
        "%" => {
            let context = context.ok_or_else(|| SizeError::NeedsContext(text.to_owned()))?;
            Some(((number as f64 / 100.0) * context.total as f64).floor() as u64)
        }
        _ => return Err(invalid()),
    }
    .ok_or_else(invalid)?;
    if greater && context.is_none() {
        return Err(SizeError::NeedsContext(text.to_owned()));
    }
    if let Some(context) = context {
        if bytes > context.available {
            return Err(SizeError::NotEnoughStorage { text: text.to_owned(), requested: bytes, available: context.available });
        }
        if greater {
            return Ok(context.available.saturating_sub(PARTITION_TABLE_RESERVE));
        }
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_parser() {
        assert_eq!(parse_validation_size("20g"), ValidationSize::Bytes(20_000_000_000));
        assert_eq!(parse_validation_size("20gx"), ValidationSize::Bytes(20_000_000_000));
        assert_eq!(parse_validation_size("30GiB"), ValidationSize::Bytes(30_000_000_000));
        assert_eq!(parse_validation_size("500MB"), ValidationSize::Bytes(500_000_000));
        assert_eq!(parse_validation_size(">20g"), ValidationSize::InvalidFormat);
        assert_eq!(parse_validation_size("20%"), ValidationSize::InvalidFormat);
        assert_eq!(parse_validation_size(" 20g"), ValidationSize::InvalidFormat);
        assert_eq!(parse_validation_size("20 g"), ValidationSize::InvalidFormat);
        assert_eq!(parse_validation_size("20Gb"), ValidationSize::UnknownUnit("Gb".into()));
        assert_eq!(parse_validation_size("20b"), ValidationSize::UnknownUnit("b".into()));
    }

    #[test]
    fn driver_parser() {
        let context = Some(SizeContext { total: 100 << 30, available: 50 << 30 });
        assert_eq!(calculate_bytes("15g junk", None), Ok(15_000_000_000));
        assert_eq!(calculate_bytes("1GiB", None), Ok(1 << 30));
        assert_eq!(calculate_bytes("512mib", None), Ok(512 << 20));
        assert_eq!(calculate_bytes("2TB", None), Ok(2_000_000_000_000));
        assert_eq!(calculate_bytes("10%", context), Ok(10 << 30));
        assert_eq!(calculate_bytes(">1g", context), Ok((50 << 30) - PARTITION_TABLE_RESERVE));
        assert!(matches!(calculate_bytes("10%", None), Err(SizeError::NeedsContext(_))));
        assert!(matches!(calculate_bytes(">1g", None), Err(SizeError::NeedsContext(_))));
        assert!(matches!(calculate_bytes("60%", context), Err(SizeError::NotEnoughStorage { .. })));
        assert!(matches!(calculate_bytes("10Gb", None), Err(SizeError::InvalidFormat(_))));
        assert!(matches!(calculate_bytes("x", None), Err(SizeError::InvalidFormat(_))));
    }
}
