//! One access-log line: the facts of a request, rendered as a JSON object or as
//! ingress-nginx's default `upstreaminfo` text line.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::Version;

/// The facts of one finished request, borrowed from wherever they were kept.
#[derive(Clone, Debug)]
pub(crate) struct Entry<'a> {
    pub time: SystemTime,
    pub client: IpAddr,
    pub method: &'a str,
    pub host: Option<&'a [u8]>,
    /// The request target's path, without the query.
    pub path: &'a str,
    /// The query, without the `?` (`None` when the target has none).
    pub query: Option<&'a str>,
    pub protocol: Version,
    pub status: u16,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Request line, headers and body, as an HTTP/1.1 request would carry them.
    pub request_length: u64,
    /// Response status line, headers and body bytes sent to the client.
    pub bytes_sent: u64,
    pub duration: Duration,
    pub upstream: Option<SocketAddr>,
    pub upstream_status: Option<u16>,
    /// The time to open the upstream connection; zero when a pooled one was reused.
    pub upstream_connect: Option<Duration>,
    pub upstream_duration: Option<Duration>,
    /// Earlier upstream attempts, passed on to the next endpoint (`upstream` is the last).
    pub passed_on: &'a [PassedOn],
    /// Namespace, Ingress and Service of the matched rule.
    pub route: Option<(&'a str, &'a str, &'a str)>,
    /// The matched backend's Service port (number or name).
    pub service_port: Option<&'a str>,
    pub request_id: Option<&'a [u8]>,
    pub user_agent: Option<&'a [u8]>,
    pub referer: Option<&'a [u8]>,
    pub tls_version: Option<&'static str>,
    pub sni: Option<&'a str>,
}

impl Entry<'_> {
    /// The line in `format`, without the newline.
    pub(crate) fn render(&self, format: Format) -> String {
        match format {
            Format::Json => self.json(),
            Format::Nginx => super::nginx::render(self),
        }
    }

    /// The JSON object, on one line, without the newline.
    pub(crate) fn json(&self) -> String {
        let mut j = Json::with_capacity(512);
        j.display("time", Rfc3339(self.time));
        j.display("client", self.client);
        j.text("method", self.method);
        j.opt_bytes("host", self.host);
        j.text("path", self.path);
        j.opt_text("query", self.query);
        j.text("protocol", protocol(self.protocol));
        j.raw("status", self.status);
        j.raw("bytes_in", self.bytes_in);
        j.raw("bytes_out", self.bytes_out);
        j.raw("request_length", self.request_length);
        j.raw("bytes_sent", self.bytes_sent);
        j.raw("duration_ms", Millis(self.duration));
        match self.upstream {
            Some(addr) => j.display("upstream", addr),
            None => j.null("upstream"),
        }
        match self.upstream_status {
            Some(status) => j.raw("upstream_status", status),
            None => j.null("upstream_status"),
        }
        match self.upstream_connect {
            Some(d) => j.raw("upstream_connect_ms", Millis(d)),
            None => j.null("upstream_connect_ms"),
        }
        match self.upstream_duration {
            Some(d) => j.raw("upstream_duration_ms", Millis(d)),
            None => j.null("upstream_duration_ms"),
        }
        let (namespace, ingress, service) = self.route.unzip3();
        j.opt_text("namespace", namespace);
        j.opt_text("ingress", ingress);
        j.opt_text("service", service);
        j.opt_bytes("request_id", self.request_id);
        j.opt_bytes("user_agent", self.user_agent);
        j.opt_bytes("referer", self.referer);
        j.opt_text("tls_version", self.tls_version);
        j.opt_text("sni", self.sni);
        j.finish()
    }
}

/// An upstream attempt whose failure passed the request to the next endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PassedOn {
    pub addr: SocketAddr,
    /// The upstream's status, or the one nginx records for the failure (502, 504).
    pub status: u16,
    pub took: Duration,
}

/// How access-log lines are written (`--access-log-format`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line (the default).
    #[default]
    Json,
    /// ingress-nginx's default `upstreaminfo` text format, for pipelines that parse it.
    Nginx,
}

trait Unzip3<'a> {
    fn unzip3(self) -> (Option<&'a str>, Option<&'a str>, Option<&'a str>);
}

impl<'a> Unzip3<'a> for Option<(&'a str, &'a str, &'a str)> {
    fn unzip3(self) -> (Option<&'a str>, Option<&'a str>, Option<&'a str>) {
        match self {
            Some((a, b, c)) => (Some(a), Some(b), Some(c)),
            None => (None, None, None),
        }
    }
}

pub(super) fn protocol(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_11 => "HTTP/1.1",
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_3 => "HTTP/3",
        _ => "unknown",
    }
}

/// A JSON object under construction.
struct Json(String);

impl Json {
    fn with_capacity(capacity: usize) -> Self {
        let mut s = String::with_capacity(capacity);
        s.push('{');
        Self(s)
    }

    fn key(&mut self, key: &str) {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        self.0.push('"');
        self.0.push_str(key);
        self.0.push_str("\":");
    }

    /// A number or other value that is valid JSON as displayed.
    fn raw(&mut self, key: &str, value: impl std::fmt::Display) {
        self.key(key);
        // Writing to a String cannot fail.
        let _ = write!(self.0, "{value}");
    }

    fn null(&mut self, key: &str) {
        self.key(key);
        self.0.push_str("null");
    }

    /// A string of known-safe characters (addresses, timestamps).
    fn display(&mut self, key: &str, value: impl std::fmt::Display) {
        self.key(key);
        let _ = write!(self.0, "\"{value}\"");
    }

    fn text(&mut self, key: &str, value: &str) {
        self.key(key);
        escape(&mut self.0, value);
    }

    fn opt_text(&mut self, key: &str, value: Option<&str>) {
        match value {
            Some(v) => self.text(key, v),
            None => self.null(key),
        }
    }

    /// Header bytes: UTF-8 where they are, U+FFFD where not.
    fn opt_bytes(&mut self, key: &str, value: Option<&[u8]>) {
        match value {
            Some(v) => self.text(key, &String::from_utf8_lossy(v)),
            None => self.null(key),
        }
    }

    fn finish(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

/// Appends `text` as a JSON string.
fn escape(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A duration in milliseconds with microsecond precision.
struct Millis(Duration);

impl std::fmt::Display for Millis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.3}", self.0.as_secs_f64() * 1000.0)
    }
}

/// A time as RFC 3339 UTC with milliseconds: `2024-03-01T12:00:00.000Z`. Times before the
/// epoch (a clock set wrong) print as the epoch.
pub(crate) struct Rfc3339(pub SystemTime);

impl std::fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let since = self.0.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = since.as_secs();
        // u64 seconds / 86400 fits in i64 for any date a SystemTime can hold.
        let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
        let (year, month, day) = civil_from_days(days);
        let rem = secs % 86_400;
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
            rem / 3600,
            rem / 60 % 60,
            rem % 60,
            since.subsec_millis()
        )
    }
}

/// Year, month, day of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // day is 1..=31 and month 1..=12 by construction.
    (year, month as u32, day as u32)
}
