//! The access log: one line per request (JSON by default, or ingress-nginx's `upstreaminfo`
//! text with `--access-log-format nginx`, see [`nginx`]), written off the request path.
//!
//! A request's line is made when its response body is done (or dropped) and handed to a
//! bounded channel; a writer thread drains it to stdout in batches. When the channel is full
//! the line is dropped and counted (`strait_access_log_dropped_total`, and
//! [`AccessLog::dropped`]): a slow stdout never stalls a request. An Ingress can turn its own
//! routes' lines off (`enable-access-log: "false"`).
//!
//! Fields, in this order (`null` where the request did not get that far):
//!
//! | field | value |
//! | --- | --- |
//! | `time` | when the request arrived, RFC 3339 UTC with milliseconds |
//! | `client` | the client address after the trusted-proxy rules |
//! | `method` | the request method |
//! | `host` | `Host` / `:authority` as received (`null` when absent) |
//! | `path` | the request target's path, as received, without the query |
//! | `query` | the query, without the `?` (`null` when the target has none) |
//! | `protocol` | `HTTP/1.0`, `HTTP/1.1` or `HTTP/2` |
//! | `status` | the status sent to the client (`499`: the client went away first) |
//! | `bytes_in`, `bytes_out` | request and response body bytes |
//! | `request_length` | request line, headers and body, counted as HTTP/1.1 would carry them (nginx's `$request_length`) |
//! | `bytes_sent` | status line, headers and body of the response (nginx's `$bytes_sent`) |
//! | `duration_ms` | arrival to the end of the response body, milliseconds (float) |
//! | `upstream` | the endpoint address of the last upstream attempt (the `nginx` format lists every attempt, as `$upstream_addr` does) |
//! | `upstream_status` | the upstream's status (`null` when Strait answered itself) |
//! | `upstream_connect_ms` | time to open the upstream connection; `0` when a pooled one was reused |
//! | `upstream_duration_ms` | start of the upstream exchange (connect, retry) to its response headers or failure |
//! | `namespace`, `ingress`, `service` | the matched rule's Ingress and Service |
//! | `request_id` | the `X-Request-ID` sent upstream |
//! | `user_agent`, `referer` | the `User-Agent` and `Referer` headers (`null` when absent) |
//! | `tls_version` | `TLSv1.2` / `TLSv1.3` on the HTTPS listener |
//! | `sni` | the server name the TLS client asked for |

use std::io::{self, BufWriter, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;

mod line;

pub(crate) use line::civil_from_days;
mod nginx;

pub use line::Format;
pub(crate) use line::{Entry, PassedOn};

/// Lines the stdout writer may fall behind by before lines are dropped.
pub const STDOUT_CAPACITY: usize = 8192;

/// The fields of every JSON line, in order (README "Metrics and logs").
pub const FIELDS: [&str; 25] = [
    "time",
    "client",
    "method",
    "host",
    "path",
    "query",
    "protocol",
    "status",
    "bytes_in",
    "bytes_out",
    "request_length",
    "bytes_sent",
    "duration_ms",
    "upstream",
    "upstream_status",
    "upstream_connect_ms",
    "upstream_duration_ms",
    "namespace",
    "ingress",
    "service",
    "request_id",
    "user_agent",
    "referer",
    "tls_version",
    "sni",
];

/// Lines written per batch (one flush, usually one `write` to stdout).
const BATCH: usize = 256;

/// Where access-log lines go; cheap to clone (clones share the channel and the drop count).
#[derive(Clone, Debug, Default)]
pub struct AccessLog {
    sink: Option<Sink>,
    format: Format,
}

#[derive(Clone, Debug)]
struct Sink {
    lines: mpsc::Sender<String>,
    dropped: Arc<AtomicU64>,
}

impl AccessLog {
    /// Lines to stdout, written by a background thread so a slow stdout never stalls
    /// requests. (If the thread cannot be started the log is off, with an error logged.)
    pub fn stdout() -> Self {
        Self::to_writer(io::stdout())
    }

    /// Lines to `writer`, one per line (`\n`-terminated), by a background thread, at most
    /// [`STDOUT_CAPACITY`] behind.
    pub fn to_writer(writer: impl Write + Send + 'static) -> Self {
        let (log, lines) = Self::channel(STDOUT_CAPACITY);
        let spawned = std::thread::Builder::new()
            .name("access-log".to_owned())
            .spawn(move || write_lines(lines, writer));
        match spawned {
            Ok(_) => log,
            Err(error) => {
                tracing::error!(%error, "could not start the access-log writer; access log off");
                Self::off()
            }
        }
    }

    /// No access log (`--access-log=false`).
    pub fn off() -> Self {
        Self::default()
    }

    /// Lines (without the newline) to the returned receiver, for tests and embedders.
    /// At most `capacity` (at least 1) lines wait in the channel; further lines are dropped
    /// and counted, as are lines sent after the receiver is gone.
    pub fn channel(capacity: usize) -> (Self, mpsc::Receiver<String>) {
        let (lines, receiver) = mpsc::channel(capacity.max(1));
        let sink = Sink {
            lines,
            dropped: Arc::default(),
        };
        let log = Self {
            sink: Some(sink),
            format: Format::default(),
        };
        (log, receiver)
    }

    /// Lines in `format` (JSON unless told otherwise).
    pub fn with_format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }

    /// The format lines are written in.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Whether lines are written at all.
    pub fn is_on(&self) -> bool {
        self.sink.is_some()
    }

    /// Lines dropped so far because the channel was full (or closed).
    pub fn dropped(&self) -> u64 {
        self.sink
            .as_ref()
            .map_or(0, |s| s.dropped.load(Ordering::Relaxed))
    }

    /// Queues a line without waiting; `false` when it was dropped (and counted).
    pub(crate) fn send(&self, line: String) -> bool {
        let Some(sink) = &self.sink else {
            return true;
        };
        match sink.lines.try_send(line) {
            Ok(()) => true,
            Err(_full_or_closed) => {
                sink.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }
}

/// The writer thread: waits for a line, writes it and whatever else is queued (up to a
/// batch), flushes, and repeats until every sender is gone. Each line goes into the buffer in
/// one piece with its newline, so a flush never splits a line and other writers to the same
/// stdout (the process's own logs) interleave only between lines. Write errors (a closed
/// stdout) lose lines, never stall senders.
fn write_lines(mut lines: mpsc::Receiver<String>, writer: impl Write) {
    let mut out = BufWriter::with_capacity(64 * 1024, writer);
    while let Some(first) = lines.blocking_recv() {
        let mut line = Some(first);
        let mut written = 0;
        while let Some(mut l) = line.take() {
            l.push('\n');
            let _ = out.write_all(l.as_bytes());
            written += 1;
            if written < BATCH {
                line = lines.try_recv().ok();
            }
        }
        let _ = out.flush();
    }
}

#[cfg(test)]
mod tests;
