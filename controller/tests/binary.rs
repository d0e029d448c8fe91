//! The real `strait` binary: flags, the bound address in the start-up log, serving, readiness,
//! metrics, JSON logs and a runtime log-level change, SIGTERM → exit 0, and a clear error with
//! exit 1 for a missing folder or an unreadable kubeconfig, printed once.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(20);

fn strait() -> Command {
    Command::new(env!("CARGO_BIN_EXE_strait"))
}

/// A raw HTTP/1.1 GET with `Connection: close`; returns the whole answer.
fn http_get(addr: SocketAddr, host: &str, path: &str) -> String {
    http_request(addr, "GET", host, path, "")
}

/// A raw HTTP/1.1 request with `Connection: close` and a body; returns the whole answer.
fn http_request(addr: SocketAddr, method: &str, host: &str, path: &str, body: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let length = body.len();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\
         Content-Length: {length}\r\n\r\n{body}"
    )
    .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read answer");
    out
}

/// Reads stderr lines on a thread; returns the receiver of lines.
fn log_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The value of `key=` in a log line.
fn field(line: &str, key: &str) -> Option<SocketAddr> {
    let start = line.find(&format!("{key}="))? + key.len() + 1;
    let rest = &line[start..];
    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    rest[..end].parse().ok()
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("strait did not exit in time");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

const MANIFEST: &str = "
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: bin, namespace: default}
spec:
  ingressClassName: strait
  rules:
  - host: bin.test
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: ghost, port: {number: 80}}}}
";

#[test]
fn serve_logs_bound_addresses_serves_and_exits_zero_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("ingress.yaml"), MANIFEST).expect("write");
    let mut child = strait()
        .args(["serve", "--manifests"])
        .arg(dir.path())
        .args(["--http-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"])
        .args(["--https-addr", "127.0.0.1:0", "--shutdown-delay", "0s"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn strait");
    let lines = log_lines(&mut child);
    let listening = loop {
        let line = lines
            .recv_timeout(DEADLINE)
            .expect("a 'listening' log line");
        if line.contains("listening") {
            break line;
        }
    };
    let http = field(&listening, "http_addr").expect("http_addr in the log");
    let admin = field(&listening, "admin_addr").expect("admin_addr in the log");
    let https = field(&listening, "https_addr").expect("https_addr in the log");
    assert_ne!(http.port(), 0);
    assert_ne!(https.port(), 0);
    TcpStream::connect(https).expect("the HTTPS listener accepts");

    // The Service is missing: the route exists and answers 503 with a reason.
    let answer = http_get(http, "bin.test", "/");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("service not found"), "{answer}");
    let answer = http_get(http, "other.test", "/");
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    let ready = http_get(admin, "localhost", "/readyz");
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    let metrics = http_get(admin, "localhost", "/metrics");
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    assert!(
        metrics.contains("\nstrait_table_generation 1\n"),
        "{metrics}"
    );

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = wait_exit(&mut child);
    assert!(status.success(), "exit status after SIGTERM: {status:?}");
}

#[test]
fn json_logs_and_a_log_level_changed_through_the_admin_listener() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("ingress.yaml"), MANIFEST).expect("write");
    let mut child = strait()
        .args([
            "--log-format",
            "json",
            "--log",
            "info",
            "serve",
            "--manifests",
        ])
        .arg(dir.path())
        .args(["--http-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"])
        .args(["--https-addr", "127.0.0.1:0", "--shutdown-delay", "0s"])
        .args(["--access-log=false"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn strait");
    let lines = log_lines(&mut child);
    let next_json = |what: &str| loop {
        let line = lines.recv_timeout(DEADLINE).expect(what);
        let parsed: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        if parsed["message"] == what {
            break parsed;
        }
    };
    let listening = next_json("listening");
    assert_eq!(listening["level"], "INFO");
    let admin: SocketAddr = listening["admin_addr"]
        .as_str()
        .and_then(|a| a.parse().ok())
        .expect("admin_addr in the JSON line");

    let level = http_get(admin, "localhost", "/log/level");
    assert!(level.ends_with("\r\n\r\ninfo\n"), "{level}");
    let changed = http_request(admin, "PUT", "localhost", "/log/level", "debug");
    assert!(changed.starts_with("HTTP/1.1 200"), "{changed}");
    let refused = http_request(admin, "PUT", "localhost", "/log/level", "strait=loud");
    assert!(refused.starts_with("HTTP/1.1 400"), "{refused}");
    // Debug lines now get through: a Service no route uses changes the objects but not the
    // table, and that is logged at debug.
    let unused = "apiVersion: v1\nkind: Service\nmetadata: {name: unused, namespace: default}\n\
                  spec: {ports: [{port: 80}]}\n";
    std::fs::write(dir.path().join("unused.yaml"), unused).expect("write");
    let unchanged = next_json("compiled table unchanged; not republished");
    assert_eq!(unchanged["level"], "DEBUG");

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    assert!(wait_exit(&mut child).success());
}

#[test]
fn missing_manifests_folder_is_a_clear_error_and_exit_1() {
    let out = strait()
        .args(["serve", "--manifests", "/nonexistent/strait-manifests"])
        .args(["--http-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"])
        .output()
        .expect("run strait");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent/strait-manifests"), "{stderr}");
    assert!(stderr.contains("manifests folder"), "{stderr}");
}

/// Runs `strait` with `args` (listeners on free loopback ports), expecting it to fail at
/// start; its stderr.
fn failed_start(args: &[&std::ffi::OsStr]) -> String {
    let out = strait()
        .args(args)
        .args(["--http-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"])
        .args(["--https-addr", "127.0.0.1:0"])
        .env("RUST_LOG", "info")
        .output()
        .expect("run strait");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    stderr
}

#[test]
fn a_start_up_error_is_printed_once_and_before_anything_listens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing");
    let garbage = dir.path().join("kubeconfig");
    std::fs::write(&garbage, "not a kubeconfig\n").expect("write");
    let cases = [
        (
            ["serve", "--manifests"],
            &missing,
            "No such file or directory",
        ),
        (
            ["controller", "--kubeconfig"],
            &missing,
            "No such file or directory",
        ),
        (["controller", "--kubeconfig"], &garbage, "not valid YAML"),
    ];
    for (args, path, reason) in cases {
        let argv: Vec<&std::ffi::OsStr> = args
            .iter()
            .map(std::ffi::OsStr::new)
            .chain([path.as_os_str()])
            .collect();
        let stderr = failed_start(&argv);
        let errors: Vec<&str> = stderr
            .lines()
            .filter(|line| line.starts_with("strait: "))
            .collect();
        assert_eq!(errors.len(), 1, "one error line: {stderr}");
        let error = errors[0];
        let path = path.display().to_string();
        assert_eq!(error.matches(&path).count(), 1, "the path once: {error}");
        assert_eq!(error.matches(reason).count(), 1, "the reason once: {error}");
        assert!(
            !stderr.contains("listening"),
            "nothing listens before the error: {stderr}"
        );
    }
}
