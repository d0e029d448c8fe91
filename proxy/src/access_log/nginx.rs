//! ingress-nginx's default access-log format, `upstreaminfo` (its `log-format-upstream`
//! default, docs/user-guide/nginx-configuration/log-format.md):
//!
//! ```text
//! $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
//! "$http_referer" "$http_user_agent" $request_length $request_time [$proxy_upstream_name]
//! [$proxy_alternative_upstream_name] $upstream_addr $upstream_response_length
//! $upstream_response_time $upstream_status $req_id
//! ```
//!
//! (one line, single spaces). What Strait puts in each: `$remote_user` is always `-` (no basic
//! auth); `$time_local` is UTC (`+0000`); `$request` is the method, the target as received and
//! the protocol (`HTTP/2.0` for HTTP/2, as nginx writes it); `$proxy_upstream_name` is
//! `namespace-service-port` of the matched backend, as ingress-nginx names upstreams, `-`
//! without one; the alternative (canary) upstream is always empty; `$upstream_response_length`
//! is the response body relayed; `$upstream_response_time` runs to the upstream's response
//! headers (Strait's `upstream_duration_ms`). A request passed on to the next endpoint lists
//! every attempt, `, `-separated, in the four `$upstream_*` fields, as nginx does (a failed
//! attempt's length is 0, its status the upstream's or nginx's 502/504). A value that is
//! missing is `-`, as in nginx.
//! Quoted values escape `"`, `\` and bytes outside printable ASCII as `\xHH`, as nginx does.

use std::fmt::{Display, Write as _};
use std::time::{Duration, UNIX_EPOCH};

use http::Version;

use super::line::{Entry, civil_from_days, protocol};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The `upstreaminfo` line of `e`, without the newline.
pub(crate) fn render(e: &Entry<'_>) -> String {
    let mut out = String::with_capacity(256);
    // Writing to a String cannot fail.
    let _ = write!(out, "{} - - [", e.client);
    time_local(&mut out, e);
    out.push_str("] \"");
    escape(&mut out, e.method.as_bytes());
    out.push(' ');
    escape(&mut out, e.path.as_bytes());
    if let Some(query) = e.query {
        out.push('?');
        escape(&mut out, query.as_bytes());
    }
    out.push(' ');
    out.push_str(match e.protocol {
        Version::HTTP_2 => "HTTP/2.0",
        v => protocol(v),
    });
    let _ = write!(out, "\" {} {} \"", e.status, e.bytes_out);
    quoted_or_dash(&mut out, e.referer);
    out.push_str("\" \"");
    quoted_or_dash(&mut out, e.user_agent);
    let _ = write!(out, "\" {} {} [", e.request_length, Seconds(e.duration));
    match (e.route, e.service_port) {
        (Some((namespace, _, service)), Some(port)) => {
            let _ = write!(out, "{namespace}-{service}-{port}");
        }
        _ => out.push('-'),
    }
    out.push_str("] [] ");
    let passed = e.passed_on;
    match e.upstream {
        Some(addr) => {
            list(&mut out, passed.iter().map(|p| p.addr), addr);
            list(&mut out, passed.iter().map(|_| 0), e.bytes_out);
        }
        None => out.push_str("- - "),
    }
    match e.upstream_duration {
        Some(d) => {
            let earlier: Duration = passed.iter().map(|p| p.took).sum();
            let last = Seconds(d.saturating_sub(earlier));
            list(&mut out, passed.iter().map(|p| Seconds(p.took)), last);
        }
        None => out.push_str("- "),
    }
    match e.upstream_status {
        Some(status) => list(&mut out, passed.iter().map(|p| p.status), status),
        None if !passed.is_empty() => list(&mut out, passed.iter().map(|p| p.status), '-'),
        None => out.push_str("- "),
    }
    match e.request_id {
        Some(id) if !id.is_empty() => escape(&mut out, id),
        _ => out.push('-'),
    }
    out
}

/// The values of the attempts passed on, then `last`, as nginx joins them (`a, b, c`), and
/// the space after the field.
fn list<T: Display>(out: &mut String, earlier: impl Iterator<Item = T>, last: impl Display) {
    for value in earlier {
        let _ = write!(out, "{value}, ");
    }
    let _ = write!(out, "{last} ");
}

/// `01/Mar/2024:12:00:00 +0000`.
fn time_local(out: &mut String, e: &Entry<'_>) {
    let secs = e
        .time
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
    let (year, month, day) = civil_from_days(days);
    let rem = secs % 86_400;
    // month is 1..=12 by construction.
    let name = MONTHS[(month as usize).saturating_sub(1).min(11)];
    let _ = write!(
        out,
        "{day:02}/{name}/{year:04}:{:02}:{:02}:{:02} +0000",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    );
}

fn quoted_or_dash(out: &mut String, value: Option<&[u8]>) {
    match value {
        Some(v) if !v.is_empty() => escape(out, v),
        _ => out.push('-'),
    }
}

/// nginx's default log escaping: `"`, `\`, control bytes and bytes from 0x7f up as `\xHH`.
fn escape(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        if b == b'"' || b == b'\\' || !(0x20..0x7f).contains(&b) {
            let _ = write!(out, "\\x{b:02X}");
        } else {
            out.push(char::from(b));
        }
    }
}

/// Seconds with millisecond precision, as nginx's `$request_time`.
struct Seconds(Duration);

impl std::fmt::Display for Seconds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.3}", self.0.as_secs_f64())
    }
}
