//! The value parsers of the command-line flags: each returns a message clap prints.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ipnet::IpNet;
use strait_shared::ObjectKey;
use strait_shared::table::{NextUpstream, parse_body_size};

/// Parses one item of a comma-separated name list (`--ingress-class`, `--controller-name`):
/// trimmed, not empty.
pub fn parse_name(s: &str) -> Result<String, String> {
    match s.trim() {
        "" => Err("empty name in the list".to_owned()),
        name => Ok(name.to_owned()),
    }
}

/// Parses `NAMESPACE/NAME`.
pub fn parse_object_key(s: &str) -> Result<ObjectKey, String> {
    match s.trim().split_once('/') {
        Some((namespace, name))
            if !namespace.is_empty() && !name.is_empty() && !name.contains('/') =>
        {
            Ok(ObjectKey::new(namespace, name))
        }
        _ => Err(format!("`{s}` is not NAMESPACE/NAME")),
    }
}

/// Parses a listen address: `IP:PORT` (`0.0.0.0:8080`, `127.0.0.1:8080`, `[::]:8080`), or
/// `:PORT` for every IPv4 interface (`0.0.0.0:PORT`, as Go tools and ingress-nginx write it).
/// Host names are not resolved.
pub fn parse_listen_addr(s: &str) -> Result<SocketAddr, String> {
    let text = s.trim();
    let parsed = match text.strip_prefix(':') {
        Some(port) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => port
            .parse::<u16>()
            .ok()
            .map(|port| SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, port))),
        Some(_) => None,
        None => text.parse().ok(),
    };
    parsed.ok_or_else(|| {
        format!(
            "`{text}` is not an IP address and port \
             (expected e.g. 0.0.0.0:8080, 127.0.0.1:8080, [::]:8080 or :8080)"
        )
    })
}

/// Parses a CIDR (`10.0.0.0/8`, `fd00::/8`) or a bare IP address (one host: /32 or /128).
pub fn parse_cidr(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    if let Ok(net) = s.parse::<IpNet>() {
        return Ok(net);
    }
    s.parse::<IpAddr>().map(IpNet::from).map_err(|_| {
        format!("`{s}` is neither a CIDR (like 10.0.0.0/8) nor an IP address (like 192.0.2.1)")
    })
}

/// Parses `--http-redirect-code`: one of the codes ingress-nginx's `http-redirect-code`
/// takes.
pub fn parse_redirect_code(s: &str) -> Result<u16, String> {
    match s.trim().parse::<u16>() {
        Ok(code @ (301 | 302 | 307 | 308)) => Ok(code),
        _ => Err(format!("`{}` is not 301, 302, 307 or 308", s.trim())),
    }
}

/// Parses a size as ingress-nginx's `proxy-body-size` (`1m`, `512k`, `100`; `0`: unlimited)
/// into bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    parse_body_size(s)
        .map(|limit| limit.map_or(0, |l| l.0))
        .map_err(|e| format!("`{}` {e}", s.trim()))
}

/// Parses a `--next-upstream` list: ingress-nginx's `proxy-next-upstream` words, separated by
/// spaces or commas (`error timeout`, `error,timeout,http_502`; `off` turns retries off).
pub fn parse_next_upstream(s: &str) -> Result<NextUpstream, String> {
    let words: Vec<&str> = s
        .split([',', ' ', '\t'])
        .filter(|w| !w.is_empty())
        .collect();
    NextUpstream::parse(&words.join(" ")).ok_or_else(|| {
        format!(
            "`{}` is not a list of error, timeout, invalid_header, http_500, http_502, \
             http_503, http_504, http_403, http_404, http_429, non_idempotent or off",
            s.trim()
        )
    })
}

/// Parses a duration written as one or more `<integer><unit>` parts, units `ms`, `s`, `m`,
/// `h`, `d`: `250ms`, `5s`, `2m`, `1m30s`, `365d`. A bare `0` is accepted; other bare numbers are not,
/// because their unit would be a guess.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let text = s.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let bad = |why: &str| {
        format!("invalid duration `{text}`: {why} (expected e.g. 250ms, 5s, 2m, 1m30s, 365d)")
    };
    if text.is_empty() {
        return Err(bad("empty"));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(bad("expected a number"));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| bad("number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => Duration::from_millis(1),
            "s" => Duration::from_secs(1),
            "m" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            "d" => Duration::from_secs(86_400),
            "" => return Err(bad("missing unit")),
            _ => return Err(bad("unknown unit")),
        };
        rest = &rest[unit_len..];
        let part = u32::try_from(number)
            .ok()
            .and_then(|n| unit.checked_mul(n))
            .ok_or_else(|| bad("too large"))?;
        total = total.checked_add(part).ok_or_else(|| bad("too large"))?;
    }
    Ok(total)
}

/// A `--limit-*-status-code` value as a status: clap keeps it within 400–599, all valid
/// codes; 503 stands in were one not.
pub(super) fn limit_status(code: u16) -> http::StatusCode {
    http::StatusCode::from_u16(code).unwrap_or(http::StatusCode::SERVICE_UNAVAILABLE)
}

/// Parses `--annotations-prefix`: a DNS-subdomain-like prefix without the trailing `/`.
pub fn parse_annotations_prefix(s: &str) -> Result<String, String> {
    let prefix = s.trim().trim_end_matches('/');
    let valid = !prefix.is_empty()
        && prefix.len() <= 253
        && prefix.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    if valid {
        Ok(prefix.to_owned())
    } else {
        Err(format!(
            "`{s}` is not an annotation prefix (expected a DNS name like nginx.ingress.kubernetes.io)"
        ))
    }
}
