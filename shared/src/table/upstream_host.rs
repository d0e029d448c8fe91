//! `upstream-vhost`: the `Host` sent upstream instead of the client's (ingress-nginx's
//! `proxy_set_header Host <value>`). Checked once at table build and kept as a ready header
//! value, so a request pays a reference-count increment for it.

use http::HeaderValue;

/// Why an `upstream-vhost` value was not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamHostError {
    #[error("is empty")]
    Empty,
    #[error("names an nginx variable (`$…`); only a literal host[:port] is sent")]
    Variable,
    #[error("is not a host name or address with an optional port")]
    NotAHost,
}

/// A literal `host[:port]` (a DNS name, an IPv4 address, or a bracketed IPv6 address), as a
/// header value.
pub fn parse_upstream_host(value: &str) -> Result<HeaderValue, UpstreamHostError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(UpstreamHostError::Empty);
    }
    if value.contains('$') {
        return Err(UpstreamHostError::Variable);
    }
    let (host, port) = match value.strip_prefix('[') {
        Some(rest) => {
            let (ip, after) = rest.split_once(']').ok_or(UpstreamHostError::NotAHost)?;
            ip.parse::<std::net::Ipv6Addr>()
                .map_err(|_| UpstreamHostError::NotAHost)?;
            let port = match after {
                "" => None,
                _ => Some(after.strip_prefix(':').ok_or(UpstreamHostError::NotAHost)?),
            };
            (None, port)
        }
        None => match value.rsplit_once(':') {
            Some((host, port)) => (Some(host), Some(port)),
            None => (Some(value), None),
        },
    };
    if let Some(port) = port
        && port.parse::<u16>().is_err()
    {
        return Err(UpstreamHostError::NotAHost);
    }
    if let Some(host) = host {
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        let name = host.strip_suffix('.').unwrap_or(host);
        if name.is_empty() || name.len() > 253 || !name.split('.').all(label_ok) {
            return Err(UpstreamHostError::NotAHost);
        }
    }
    HeaderValue::from_str(value).map_err(|_| UpstreamHostError::NotAHost)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_hosts_are_kept_as_written() {
        for host in [
            "app.internal",
            "app.internal:8080",
            "10.0.0.7",
            "10.0.0.7:80",
            "[2001:db8::1]",
            "[2001:db8::1]:8443",
            "my_service.ns.svc.cluster.local",
            "example.com.",
        ] {
            let value = parse_upstream_host(host).unwrap_or_else(|e| panic!("{host}: {e}"));
            assert_eq!(value, host);
        }
        assert_eq!(
            parse_upstream_host("  padded.example  ").unwrap(),
            "padded.example"
        );
    }

    #[test]
    fn variables_and_non_hosts_are_refused() {
        let cases = [
            ("", UpstreamHostError::Empty),
            ("$host", UpstreamHostError::Variable),
            ("$service_name.$namespace.svc", UpstreamHostError::Variable),
            ("a b", UpstreamHostError::NotAHost),
            ("host:port", UpstreamHostError::NotAHost),
            ("host:99999", UpstreamHostError::NotAHost),
            ("a..b", UpstreamHostError::NotAHost),
            ("host/path", UpstreamHostError::NotAHost),
            ("[::1", UpstreamHostError::NotAHost),
            ("[::1]x", UpstreamHostError::NotAHost),
            ("[not-ip]:80", UpstreamHostError::NotAHost),
            ("x;y", UpstreamHostError::NotAHost),
        ];
        for (value, error) in cases {
            assert_eq!(parse_upstream_host(value), Err(error), "{value:?}");
        }
    }

    #[test]
    fn parse_never_panics() {
        bolero::check!().with_type::<String>().for_each(|s| {
            if let Ok(v) = parse_upstream_host(s) {
                assert!(!v.as_bytes().contains(&b' '));
            }
        });
    }
}
