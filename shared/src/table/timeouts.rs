//! Upstream timeouts of one Ingress (`proxy-connect-timeout`, `proxy-read-timeout`,
//! `proxy-send-timeout`), parsed when the table is built (docs/architecture.md, "Timeouts").
//!
//! Values are whole seconds, as ingress-nginx reads them (Go's `strconv.Atoi`: `"60"`, not
//! `"60s"`); a value that does not parse, or is not positive, is reported and the global
//! default applies, as in ingress-nginx.

use std::time::Duration;

/// Per-route timeouts; `None`: the proxy's global default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Timeouts {
    /// Upstream TCP connect (nginx `proxy_connect_timeout`).
    pub connect: Option<Duration>,
    /// Between two successive reads from the upstream: the wait for the response headers once
    /// the request is sent, each read of the response body, and silence on a WebSocket tunnel
    /// (nginx `proxy_read_timeout`).
    pub read: Option<Duration>,
    /// Between two successive writes to the upstream (nginx `proxy_send_timeout`).
    pub send: Option<Duration>,
}

impl Timeouts {
    /// Whether every timeout is the global default.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// A timeout annotation value in whole seconds; `None` when it is not a positive integer.
pub fn parse_seconds(value: &str) -> Option<Duration> {
    let seconds: i64 = value.parse().ok()?;
    u64::try_from(seconds)
        .ok()
        .filter(|s| *s > 0)
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ingress-nginx reads these keys with `parser.GetIntAnnotation` (strconv.Atoi) and falls
    /// back to the ConfigMap default otherwise (internal/ingress/annotations/proxy/main.go;
    /// docs/user-guide/nginx-configuration/annotations.md, "Custom timeouts").
    #[test]
    fn seconds_as_ingress_nginx_reads_them() {
        assert_eq!(parse_seconds("60"), Some(Duration::from_secs(60)));
        assert_eq!(parse_seconds("+5"), Some(Duration::from_secs(5)));
        for bad in [
            "60s",
            " 60",
            "",
            "0",
            "-1",
            "1.5",
            "1m",
            "99999999999999999999",
        ] {
            assert_eq!(parse_seconds(bad), None, "{bad:?}");
        }
    }
}
