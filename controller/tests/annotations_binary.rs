//! The real `strait serve` binary and ingress-nginx annotations (docs/architecture.md,
//! "Annotations": never silent): what an operator reads on stderr. A security key Strait
//! does not enforce is a WARN `rejected:` line naming the key by default, and a WARN line
//! naming the key and `UnsupportedAnnotation` under
//! `--unsupported-security-annotations=serve`; a typo of a known key is named with its
//! suggestion. Traffic through the proxy is tested in
//! `e2e/tests/annotations.rs`; here one request shows which mode the binary is in.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(20);
const NGINX: &str = "nginx.ingress.kubernetes.io";

/// `default/guarded` on `a.test` with `enable-modsecurity: "true"` (annotations.md
/// "ModSecurity": no WAF in Strait, so not enforced), and `default/typo` on `t.test` with `server-snippets`, a typo of
/// `server-snippet` seen in published manifests. Their Services do not exist: a served route
/// answers 503 "service not found", a refused one 503 with the refusal.
const MANIFEST: &str = "
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: guarded
  namespace: default
  annotations: {nginx.ingress.kubernetes.io/enable-modsecurity: 'true'}
spec:
  ingressClassName: strait
  rules:
  - host: a.test
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: guarded, port: {number: 80}}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: typo
  namespace: default
  annotations: {nginx.ingress.kubernetes.io/server-snippets: x}
spec:
  ingressClassName: strait
  rules:
  - host: t.test
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: typo, port: {number: 80}}}}
";

const REFUSAL: &str =
    "route refused: its Ingress has a security annotation that Strait does not enforce yet";

/// A running `strait serve` on the manifest above; killed when dropped if still running.
struct Strait {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// Every stderr line read so far (for failure messages).
    seen: Vec<String>,
    http: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Strait {
    fn serve(extra: &[&str]) -> Strait {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("ingresses.yaml"), MANIFEST).expect("write");
        let mut child = Command::new(env!("CARGO_BIN_EXE_strait"))
            .args(["serve", "--manifests"])
            .arg(dir.path())
            .args(["--http-addr", "127.0.0.1:0", "--https-addr", "127.0.0.1:0"])
            .args(["--admin-addr", "127.0.0.1:0", "--shutdown-delay", "0s"])
            .args(extra)
            .env("RUST_LOG", "info")
            .env_remove("STRAIT_UNSUPPORTED_SECURITY_ANNOTATIONS")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn strait");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut strait = Strait {
            child,
            lines,
            seen: Vec::new(),
            http: "127.0.0.1:0".parse().expect("addr"),
            _dir: dir,
        };
        let listening = strait.line(|l| l.contains("listening"), "the 'listening' line");
        strait.http = field(&listening, "http_addr").expect("http_addr in the log");
        strait
    }

    /// The first stderr line (already read or still to come) that satisfies `matches`.
    fn line(&mut self, matches: impl Fn(&str) -> bool, what: &str) -> String {
        if let Some(line) = self.seen.iter().find(|l| matches(l)) {
            return line.clone();
        }
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = self.lines.recv_timeout(left) else {
                panic!("no {what} on stderr:\n{}", self.seen.join("\n"));
            };
            self.seen.push(line.clone());
            if matches(&line) {
                return line;
            }
        }
    }

    /// SIGTERM, then the exit status within the deadline.
    fn stop(mut self) {
        let killed = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(killed.success());
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            assert!(start.elapsed() < DEADLINE, "strait did not exit in time");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.success(), "exit status after SIGTERM: {status:?}");
    }
}

impl Drop for Strait {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The value of `key=` in a log line.
fn field(line: &str, key: &str) -> Option<SocketAddr> {
    let start = line.find(&format!("{key}="))? + key.len() + 1;
    let rest = &line[start..];
    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// A raw HTTP/1.1 GET with `Connection: close`; the whole answer.
fn http_get(addr: SocketAddr, host: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
    write!(
        s,
        "GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read answer");
    out
}

fn is_warn(line: &str) -> bool {
    line.contains(" WARN ")
}

#[test]
fn an_unenforced_security_key_is_logged_as_rejected_and_refused() {
    let key = format!("{NGINX}/enable-modsecurity");
    let mut strait = Strait::serve(&[]);
    let line = strait.line(
        |l| is_warn(l) && l.contains("rejected:") && l.contains(&key),
        "WARN 'rejected:' line naming the key",
    );
    assert!(line.contains("reason=UnsupportedAnnotation"), "{line}");
    assert!(line.contains("default/guarded"), "{line}");
    let answer = http_get(strait.http, "a.test");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains(REFUSAL), "{answer}");

    // The typo is named with the key it most likely meant, as a warning (not a rejection).
    let typo = strait.line(
        |l| is_warn(l) && l.contains("server-snippets"),
        "WARN line naming the unknown key",
    );
    let expected = format!(
        "unknown annotations, no effect: {NGINX}/server-snippets (did you mean {NGINX}/server-snippet?)"
    );
    assert!(typo.contains(&expected), "{typo}");
    assert!(typo.contains("reason=UnknownAnnotation"), "{typo}");
    assert!(!typo.contains("rejected:"), "{typo}");
    strait.stop();
}

#[test]
fn the_serve_flag_serves_the_route_and_logs_a_warning_naming_the_key() {
    let key = format!("{NGINX}/enable-modsecurity");
    let mut strait = Strait::serve(&["--unsupported-security-annotations=serve"]);
    let line = strait.line(
        |l| is_warn(l) && l.contains(&key),
        "WARN line naming the key",
    );
    assert!(line.contains("reason=UnsupportedAnnotation"), "{line}");
    assert!(
        line.contains("served WITHOUT them because --unsupported-security-annotations=serve"),
        "{line}"
    );
    assert!(
        !line.contains("rejected:"),
        "a warning, not a rejection: {line}"
    );
    // Served: past the refusal to the backend lookup (its Service is missing).
    let answer = http_get(strait.http, "a.test");
    assert!(!answer.contains("route refused"), "{answer}");
    assert!(answer.contains("service not found"), "{answer}");
    strait.stop();
}
