//! When a request goes to the next endpoint (`proxy-next-upstream`, `-tries`, `-timeout`),
//! parsed when the table is built (docs/architecture.md, "Retries").
//!
//! The values are read as ingress-nginx reads them (`internal/ingress/annotations/proxy`):
//! `proxy-next-upstream` must pass its validator, a list of the words below separated by one
//! blank each; `-tries` and `-timeout` are Go `Atoi` integers (whole seconds for the timeout).
//! A value that does not parse is reported and the global default applies, as in
//! ingress-nginx. None of these keys restricts access, so none fails closed.

use std::fmt;
use std::time::Duration;

/// The failures after which a request is passed to the next endpoint (nginx's
/// `proxy_next_upstream`): a set of conditions, empty for `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NextUpstream(u16);

/// nginx's words, in the order ingress-nginx's validator lists them, with their bits.
const WORDS: [(&str, NextUpstream); 11] = [
    ("error", NextUpstream::ERROR),
    ("timeout", NextUpstream::TIMEOUT),
    ("invalid_header", NextUpstream::INVALID_HEADER),
    ("http_500", NextUpstream::HTTP_500),
    ("http_502", NextUpstream::HTTP_502),
    ("http_503", NextUpstream::HTTP_503),
    ("http_504", NextUpstream::HTTP_504),
    ("http_403", NextUpstream::HTTP_403),
    ("http_404", NextUpstream::HTTP_404),
    ("http_429", NextUpstream::HTTP_429),
    ("non_idempotent", NextUpstream::NON_IDEMPOTENT),
];

/// The blanks ingress-nginx's validator accepts between two words (Go's `\s` without the line
/// breaks it refuses as malicious).
const BLANKS: [char; 3] = [' ', '\t', '\x0c'];

impl NextUpstream {
    /// Connect failures, failures while sending the request and while reading the response
    /// headers.
    pub const ERROR: Self = Self(1);
    /// The connect, send or response-header timeout expired.
    pub const TIMEOUT: Self = Self(1 << 1);
    /// The upstream's response headers did not parse (or were too large).
    pub const INVALID_HEADER: Self = Self(1 << 2);
    pub const HTTP_500: Self = Self(1 << 3);
    pub const HTTP_502: Self = Self(1 << 4);
    pub const HTTP_503: Self = Self(1 << 5);
    pub const HTTP_504: Self = Self(1 << 6);
    pub const HTTP_403: Self = Self(1 << 7);
    pub const HTTP_404: Self = Self(1 << 8);
    pub const HTTP_429: Self = Self(1 << 9);
    /// Non-idempotent requests (POST, LOCK, PATCH) may go to the next endpoint even once they
    /// were sent.
    pub const NON_IDEMPOTENT: Self = Self(1 << 10);
    /// Never pass a request on.
    pub const OFF: Self = Self(0);
    /// ingress-nginx's ConfigMap default, `error timeout`.
    pub const DEFAULT: Self = Self(Self::ERROR.0 | Self::TIMEOUT.0);

    /// Parses an annotation value as ingress-nginx accepts it: words of the list above, each
    /// followed by at most one blank (so no blank first and no two in a row). `off` anywhere
    /// turns every other word off, as nginx does. `None` when the value is not valid (also
    /// for words run together, which ingress-nginx's validator lets through and nginx then
    /// refuses).
    pub fn parse(value: &str) -> Option<Self> {
        let body = value.strip_suffix(BLANKS).unwrap_or(value);
        if body.is_empty() {
            return None;
        }
        let mut set = Self::OFF;
        let mut off = false;
        for word in body.split(BLANKS) {
            if word == "off" {
                off = true;
                continue;
            }
            let (_, bit) = WORDS.iter().find(|(name, _)| *name == word)?;
            set = set.with(*bit);
        }
        Some(if off { Self::OFF } else { set })
    }

    /// Both sets of conditions.
    #[must_use]
    pub const fn with(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Whether every condition of `other` is in this set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether the set is `off`.
    pub const fn is_off(self) -> bool {
        self.0 == 0
    }

    /// The `http_xxx` condition of an upstream response status, if nginx has one for it.
    pub const fn of_status(status: u16) -> Option<Self> {
        match status {
            500 => Some(Self::HTTP_500),
            502 => Some(Self::HTTP_502),
            503 => Some(Self::HTTP_503),
            504 => Some(Self::HTTP_504),
            403 => Some(Self::HTTP_403),
            404 => Some(Self::HTTP_404),
            429 => Some(Self::HTTP_429),
            _ => None,
        }
    }
}

impl fmt::Display for NextUpstream {
    /// nginx's syntax: the words separated by spaces, or `off`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_off() {
            return f.write_str("off");
        }
        let mut first = true;
        for (name, bit) in WORDS {
            if self.contains(bit) {
                if !first {
                    f.write_str(" ")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

/// One Ingress's retry settings; `None`: the proxy's global default for that setting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Retries {
    /// `proxy-next-upstream`.
    pub next_upstream: Option<NextUpstream>,
    /// `proxy-next-upstream-tries`: attempts in all, the first included; 0 means no limit.
    pub tries: Option<u32>,
    /// `proxy-next-upstream-timeout`: how long after the first attempt started a request may
    /// still be passed on; zero means no limit.
    pub timeout: Option<Duration>,
}

impl Retries {
    /// Whether every setting is the global default.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// A `proxy-next-upstream-tries` value: a non-negative whole number (0: no limit; values past
/// `u32::MAX` mean no limit too). `None` when it is not one.
pub fn parse_tries(value: &str) -> Option<u32> {
    let tries: i64 = value.parse().ok()?;
    u64::try_from(tries)
        .ok()
        .map(|t| u32::try_from(t).unwrap_or(u32::MAX))
}

/// A `proxy-next-upstream-timeout` value: non-negative whole seconds (0: no limit). `None`
/// when it is not one.
pub fn parse_retry_timeout(value: &str) -> Option<Duration> {
    let seconds: i64 = value.parse().ok()?;
    u64::try_from(seconds).ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ingress-nginx's validator for `proxy-next-upstream`
    /// (`^((error|timeout|…|non_idempotent|off)\s?)+$`) and the values its e2e tests set
    /// (test/e2e/annotations/proxy.go "should build proxy next upstream": `error timeout
    /// http_502`; test/e2e/settings/proxy_next_upstream.go: `timeout http_502`).
    #[test]
    fn next_upstream_as_ingress_nginx_validates_it() {
        let n = NextUpstream::parse;
        assert_eq!(n("error timeout"), Some(NextUpstream::DEFAULT));
        assert_eq!(
            n("error timeout http_502"),
            Some(NextUpstream::DEFAULT.with(NextUpstream::HTTP_502))
        );
        assert_eq!(
            n("timeout\thttp_502 "),
            Some(NextUpstream::TIMEOUT.with(NextUpstream::HTTP_502))
        );
        assert_eq!(n("non_idempotent"), Some(NextUpstream::NON_IDEMPOTENT));
        assert_eq!(n("error error"), Some(NextUpstream::ERROR));
        for bad in [
            "",
            " ",
            " error",
            "error  timeout",
            "error,timeout",
            "errortimeout",
            "ERROR",
            "http_501",
            "error\ntimeout",
            "error\r",
            "error \t",
        ] {
            assert_eq!(n(bad), None, "{bad:?}");
        }
    }

    /// nginx: `off` cancels every other condition (ngx_http_proxy_merge_loc_conf keeps only
    /// the off bit), whatever else the list holds.
    #[test]
    fn off_anywhere_is_off() {
        for value in ["off", "error off", "off http_502 non_idempotent"] {
            let parsed = NextUpstream::parse(value).unwrap();
            assert!(parsed.is_off(), "{value}");
            assert_eq!(parsed.to_string(), "off");
        }
    }

    #[test]
    fn statuses_have_the_http_conditions_nginx_lists() {
        for (status, word) in [
            (500, "http_500"),
            (502, "http_502"),
            (503, "http_503"),
            (504, "http_504"),
            (403, "http_403"),
            (404, "http_404"),
            (429, "http_429"),
        ] {
            let bit = NextUpstream::of_status(status).unwrap();
            assert_eq!(bit.to_string(), word);
        }
        for status in [200, 301, 400, 401, 501, 505] {
            assert_eq!(NextUpstream::of_status(status), None, "{status}");
        }
    }

    /// `-tries` and `-timeout` are read with `parser.GetIntAnnotation` (Go's `Atoi`); nginx
    /// takes 0 as "no limit" for both and refuses a negative number.
    #[test]
    fn tries_and_timeout_are_whole_non_negative_numbers() {
        assert_eq!(parse_tries("3"), Some(3));
        assert_eq!(parse_tries("0"), Some(0));
        assert_eq!(parse_tries("+2"), Some(2));
        assert_eq!(parse_tries("888888"), Some(888_888));
        assert_eq!(parse_tries("99999999999"), Some(u32::MAX));
        assert_eq!(parse_retry_timeout("0"), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_timeout("999999"),
            Some(Duration::from_secs(999_999))
        );
        for bad in ["-1", "3s", " 3", "", "1.5", "99999999999999999999"] {
            assert_eq!(parse_tries(bad), None, "{bad:?}");
            assert_eq!(parse_retry_timeout(bad), None, "{bad:?}");
        }
    }

    /// Any input: no panic; a value that parses prints back in nginx's syntax, and that text
    /// parses to the same set (the word order aside).
    #[test]
    fn fuzz_next_upstream() {
        let hold = |text: &str| {
            if let Some(parsed) = NextUpstream::parse(text) {
                let printed = parsed.to_string();
                assert_eq!(NextUpstream::parse(&printed), Some(parsed), "{text:?}");
                assert!(!text.starts_with(BLANKS), "{text:?}");
            }
            let _ = parse_tries(text);
            let _ = parse_retry_timeout(text);
        };
        for seed in [
            "error timeout http_502",
            "off",
            "non_idempotent ",
            "error  timeout",
            "\u{0}",
            "é",
        ] {
            hold(seed);
        }
        bolero::check!()
            .with_test_time(crate::fuzz::budget())
            .for_each(|input: &[u8]| hold(&String::from_utf8_lossy(input)));
    }
}
