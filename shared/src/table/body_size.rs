//! Request body limits (`proxy-body-size` and the global `--max-body-size`): nginx's
//! `client_max_body_size`, checked by the proxy on `Content-Length` before anything goes
//! upstream, and on the bytes of a streamed body as they arrive.

use std::fmt;

/// ingress-nginx's default `proxy-body-size` (its ConfigMap default, `1m`).
pub const DEFAULT_MAX_BODY_SIZE: u64 = 1024 * 1024;

/// The most a request body of a route may carry, in bytes. Routes without one (`0`,
/// "unlimited" in nginx) have no limit attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BodyLimit(pub u64);

impl fmt::Display for BodyLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bytes", self.0)
    }
}

/// Why a size does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    #[error("is not a size (digits with an optional unit b, k, m or g)")]
    Invalid,
    #[error("is too large")]
    TooLarge,
}

/// A size as ingress-nginx accepts it (`^(?i)\d+[bkmg]?$`, its `SizeRegex`): digits, then an
/// optional unit `b`, `k` (KiB), `m` (MiB) or `g` (GiB), either case; surrounding spaces
/// ignored. `Ok(None)` is `0`: no limit.
pub fn parse_body_size(value: &str) -> Result<Option<BodyLimit>, SizeError> {
    let value = value.trim();
    let (digits, unit) = match value.as_bytes().last() {
        Some(b) if b.is_ascii_alphabetic() => (&value[..value.len() - 1], b.to_ascii_lowercase()),
        _ => (value, b'b'),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SizeError::Invalid);
    }
    let shift = match unit {
        b'b' => 0,
        b'k' => 10,
        b'm' => 20,
        b'g' => 30,
        _ => return Err(SizeError::Invalid),
    };
    // Leading zeros are fine ("0010k"); the number itself must fit once scaled.
    let number: u64 = match digits.trim_start_matches('0') {
        "" => 0,
        rest => rest.parse().map_err(|_| SizeError::TooLarge)?,
    };
    let bytes = number
        .checked_mul(1u64 << shift)
        .ok_or(SizeError::TooLarge)?;
    Ok((bytes > 0).then_some(BodyLimit(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ingress-nginx annotations.md, "Custom max body size" (`proxy-body-size: 8m`), and its
    /// validator `SizeRegex` (`^(?i)\d+[bkmg]?$`); `0` disables the check, as nginx's
    /// `client_max_body_size 0`.
    #[test]
    fn sizes_take_nginx_units() {
        let cases = [
            ("8m", Some(8 << 20)),
            ("8M", Some(8 << 20)),
            ("1k", Some(1024)),
            ("2g", Some(2 << 30)),
            ("100", Some(100)),
            ("100b", Some(100)),
            (" 1m ", Some(1 << 20)),
            ("0", None),
            ("0m", None),
            ("000", None),
        ];
        for (value, bytes) in cases {
            assert_eq!(
                parse_body_size(value),
                Ok(bytes.map(BodyLimit)),
                "{value:?}"
            );
        }
    }

    #[test]
    fn other_values_do_not_parse() {
        for bad in [
            "", "m", "1.5m", "-1", "1 m", "1t", "1mb", "é", "1m\u{0}", "+1",
        ] {
            assert_eq!(parse_body_size(bad), Err(SizeError::Invalid), "{bad:?}");
        }
        assert_eq!(
            parse_body_size("18446744073709551616"),
            Err(SizeError::TooLarge)
        );
        assert_eq!(parse_body_size("17179869184g"), Err(SizeError::TooLarge));
    }

    /// Any input: no panic; a size that parses is its digits times its unit, and every
    /// number written without a unit parses to itself.
    #[test]
    fn fuzz_body_size() {
        let hold = |text: &str| {
            if let Ok(Some(BodyLimit(bytes))) = parse_body_size(text) {
                assert!(bytes > 0, "{text:?}");
            }
            if let Ok(n) = text.trim().parse::<u64>()
                && !text.trim().starts_with('+')
            {
                assert_eq!(parse_body_size(text), Ok((n > 0).then_some(BodyLimit(n))));
            }
        };
        for seed in [
            "1m",
            "0",
            "18446744073709551615",
            "99999999999g",
            "é",
            "1\u{0}",
        ] {
            hold(seed);
        }
        bolero::check!()
            .with_test_time(crate::fuzz::budget())
            .for_each(|input: &[u8]| hold(&String::from_utf8_lossy(input)));
    }
}
