//! The four targets, started with equivalent settings: direct (the upstream itself), Strait,
//! nginx and HAProxy. Each proxy gets one worker per core, the same certificate, access logs
//! off, X-Forwarded-For on, and a keep-alive pool to the one upstream.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};
use strait_e2e::manifests::{IngressB, backend};
use strait_e2e::tls::{TestCert, tls_secret};

use super::procs::{Proc, free_port, http_status, wait_until};

/// Host header of the plain-HTTP scenarios (its Ingress has no `tls`, so Strait proxies it
/// rather than redirecting to HTTPS).
pub const PLAIN_HOST: &str = "plain.test";
/// Host of the change-under-load probe routes: it has no catch-all route, so a probe path
/// answers 200 only once its own route is live.
pub const PROBE_HOST: &str = "probe.test";
/// Host (and SNI, where the client sends one) of the HTTPS scenarios.
pub const TLS_HOST: &str = "bench.test";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    Direct,
    Strait,
    Nginx,
    Haproxy,
}

impl Target {
    pub const ALL: [Target; 4] = [
        Target::Direct,
        Target::Strait,
        Target::Nginx,
        Target::Haproxy,
    ];
    pub const PROXIES: [Target; 3] = [Target::Strait, Target::Nginx, Target::Haproxy];

    pub fn name(self) -> &'static str {
        match self {
            Target::Direct => "direct",
            Target::Strait => "Strait",
            Target::Nginx => "nginx",
            Target::Haproxy => "HAProxy",
        }
    }
}

/// What every target shares: binaries, the work folder, the upstream and the certificate.
pub struct Env {
    pub strait: PathBuf,
    pub work: PathBuf,
    /// The upstream's two listening addresses (127.0.0.2 and 127.0.0.3, same port): the
    /// change-under-load run moves the endpoint between them.
    pub upstream: [String; 2],
    pub cert: TestCert,
    /// Worker threads / processes per proxy: one per core.
    pub workers: usize,
}

impl Env {
    pub fn cert_file(&self) -> PathBuf {
        self.work.join("bench.crt")
    }
    pub fn key_file(&self) -> PathBuf {
        self.work.join("bench.key")
    }
    /// Certificate then key in one file, as HAProxy's `crt` takes them.
    pub fn pem_file(&self) -> PathBuf {
        self.work.join("bench.pem")
    }

    /// Writes the certificate files once.
    pub fn write_cert_files(&self) -> Result<()> {
        fs::write(self.cert_file(), &self.cert.cert_pem)?;
        fs::write(self.key_file(), &self.cert.key_pem)?;
        fs::write(
            self.pem_file(),
            format!("{}{}", self.cert.cert_pem, self.cert.key_pem),
        )?;
        Ok(())
    }
}

/// A started target: where to send plain and TLS traffic, and its process (none for direct).
pub struct Running {
    pub target: Target,
    pub http: String,
    pub https: Option<String>,
    pub proc: Option<Proc>,
    /// Strait's admin address (`/readyz`, `/metrics`).
    pub admin: Option<String>,
    /// nginx's prefix, configuration and ports, for rewriting it and `nginx -s reload`.
    pub nginx: Option<NginxFiles>,
}

/// Where a running nginx keeps its files, and the ports it listens on.
#[derive(Clone, Debug)]
pub struct NginxFiles {
    pub prefix: PathBuf,
    pub conf: PathBuf,
    pub ports: (u16, u16),
}

impl NginxFiles {
    /// Rewrites the configuration (endpoint `endpoint`, one exact location per probe route).
    pub fn write(&self, env: &Env, endpoint: usize, probes: &[usize]) -> Result<()> {
        let tmp = self.conf.with_extension("tmp");
        fs::write(
            &tmp,
            nginx_conf(env, &self.prefix, self.ports, endpoint, probes),
        )?;
        fs::rename(&tmp, &self.conf)?;
        Ok(())
    }

    /// `nginx -s reload`: the master re-reads the configuration, starts new workers and tells
    /// the old ones to finish their requests and exit.
    pub fn reload(&self) -> Result<()> {
        let out = Command::new("nginx")
            .arg("-p")
            .arg(&self.prefix)
            .arg("-c")
            .arg(&self.conf)
            .args(["-s", "reload"])
            .output()?;
        if !out.status.success() {
            anyhow::bail!("nginx -s reload: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    }
}

impl Running {
    pub fn pid(&self) -> Option<u32> {
        self.proc.as_ref().map(Proc::pid)
    }

    /// Waits (20 s at most) until a plain request through the target answers 200; fails at
    /// once, naming its log, if the process exits.
    pub fn wait_proxying(&mut self) -> Result<()> {
        let what = format!("{} to proxy a request", self.target.name());
        let timeout = Duration::from_secs(20);
        let http = self.http.clone();
        let ready = || http_status(&http, PLAIN_HOST, "/") == Some(200);
        match self.proc.as_mut() {
            Some(proc) => proc.wait_ready(&what, timeout, ready),
            None => wait_until(&what, timeout, || Ok(ready())),
        }
    }
}

/// Starts `target` fresh (own ports, own folder) and waits until it proxies a request.
pub fn start(env: &Env, target: Target) -> Result<Running> {
    let mut running = match target {
        Target::Direct => Running {
            target,
            http: env.upstream[0].clone(),
            https: None,
            proc: None,
            admin: None,
            nginx: None,
        },
        Target::Strait => start_strait(env, &strait_manifests(env, 0)?, &[])?,
        Target::Nginx => start_nginx(env, 0, &[])?,
        Target::Haproxy => start_haproxy(env)?,
    };
    running.wait_proxying()?;
    Ok(running)
}

/// A fresh folder under the work folder.
pub fn fresh_dir(env: &Env, name: &str) -> Result<PathBuf> {
    let dir = env.work.join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// The manifests folder for Strait: the TLS Secret, the `echo` Service whose one endpoint is
/// `env.upstream[endpoint]`, an HTTPS Ingress for [`TLS_HOST`] and a plain one for
/// [`PLAIN_HOST`].
pub fn strait_manifests(env: &Env, endpoint: usize) -> Result<PathBuf> {
    let dir = fresh_dir(env, "strait-manifests")?;
    let mut objects = vec![tls_secret("default", "bench-tls", &env.cert)];
    objects.push(
        IngressB::new("default", "bench")
            .rule(TLS_HOST, "/", "Prefix", "echo", 80)
            .tls(&[TLS_HOST], Some("bench-tls"))
            .build(),
    );
    objects.push(
        IngressB::new("default", "plain")
            .rule(PLAIN_HOST, "/", "Prefix", "echo", 80)
            .build(),
    );
    write_list(&dir.join("bench.json"), &objects)?;
    write_list(&dir.join("echo.json"), &echo_backend(env, endpoint)?)?;
    Ok(dir)
}

/// The `echo` Service and its EndpointSlice pointing at `env.upstream[endpoint]`.
pub fn echo_backend(env: &Env, endpoint: usize) -> Result<Vec<serde_json::Value>> {
    let addr = env.upstream[endpoint].parse().context("upstream address")?;
    Ok(backend("default", "echo", &[addr]))
}

/// Writes `items` as a `kind: List` JSON file, atomically (temp file, then rename).
pub fn write_list(path: &Path, items: &[serde_json::Value]) -> Result<()> {
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items});
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, serde_json::to_vec(&list)?)?;
    fs::rename(&tmp, path)?;
    Ok(())
}

/// Starts `strait serve` on `manifests` and waits for `/readyz`. `extra` flags are appended.
pub fn start_strait(env: &Env, manifests: &Path, extra: &[&str]) -> Result<Running> {
    let (http, https, admin) = (port()?, port()?, port()?);
    let mut cmd = Command::new(&env.strait);
    cmd.arg("serve")
        .arg("--manifests")
        .arg(manifests)
        .args(["--http-addr", &format!("127.0.0.1:{http}")])
        .args(["--https-addr", &format!("127.0.0.1:{https}")])
        .args(["--admin-addr", &format!("127.0.0.1:{admin}")])
        // wrk sends no SNI (it connects to an IP): the certificate is also the default one.
        .args(["--default-ssl-certificate", "default/bench-tls"])
        .args(["--access-log=false", "--log", "warn"])
        .args(["--shutdown-delay", "0s", "--shutdown-grace", "1s"])
        .args(extra);
    let mut proc = Proc::spawn("strait", cmd, &env.work.join("strait.log"))?;
    let admin = format!("127.0.0.1:{admin}");
    proc.wait_ready("strait /readyz", Duration::from_secs(120), || {
        http_status(&admin, "localhost", "/readyz") == Some(200)
    })?;
    Ok(Running {
        target: Target::Strait,
        http: format!("127.0.0.1:{http}"),
        https: Some(format!("127.0.0.1:{https}")),
        proc: Some(proc),
        admin: Some(admin),
        nginx: None,
    })
}

fn port() -> Result<u16> {
    free_port("127.0.0.1")
}

/// The nginx configuration: `endpoint` picks the upstream address; each probe route `k` gets
/// `location = /probe-k` in a server of its own for [`PROBE_HOST`].
pub fn nginx_conf(
    env: &Env,
    prefix: &Path,
    ports: (u16, u16),
    endpoint: usize,
    probes: &[usize],
) -> String {
    let p = prefix.display();
    let proxy = "proxy_pass http://echo;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Real-IP $remote_addr;";
    let mut extra_locations = String::new();
    for k in probes {
        let _ = writeln!(
            extra_locations,
            "        location = /probe-{k} {{\n            {proxy}\n        }}"
        );
    }
    format!(
        r#"# Generated by the Strait load suite.
daemon off;
master_process on;
user root;
worker_processes {workers};
pid {p}/nginx.pid;
error_log {p}/error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {p}/body;
    proxy_temp_path {p}/proxy;
    fastcgi_temp_path {p}/fastcgi;
    uwsgi_temp_path {p}/uwsgi;
    scgi_temp_path {p}/scgi;
    # Strait and HAProxy put no cap on requests per client connection; nginx's default is 1000.
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    upstream echo {{
        server {upstream};
        keepalive 64;
        keepalive_requests 1000000;
        keepalive_timeout 90s;
    }}
    server {{
        listen 127.0.0.1:{http};
        listen 127.0.0.1:{https} ssl;
        server_name _;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {{
            {proxy}
        }}
    }}
    # The change-under-load probes: only their exact paths answer (anything else is 404).
    server {{
        listen 127.0.0.1:{http};
        server_name {probe_host};
        root {p}/empty;
        log_not_found off;
{extra_locations}
    }}
}}
"#,
        workers = env.workers,
        probe_host = PROBE_HOST,
        upstream = env.upstream[endpoint],
        http = ports.0,
        https = ports.1,
        cert = env.cert_file().display(),
        key = env.key_file().display(),
    )
}

/// Starts nginx (master + one worker per core) in its own prefix, on upstream address
/// `endpoint`, with a location per probe route.
pub fn start_nginx(env: &Env, endpoint: usize, probes: &[usize]) -> Result<Running> {
    let prefix = fresh_dir(env, "nginx")?;
    let files = NginxFiles {
        conf: prefix.join("nginx.conf"),
        prefix,
        ports: (port()?, port()?),
    };
    files.write(env, endpoint, probes)?;
    let mut cmd = Command::new("nginx");
    cmd.arg("-p").arg(&files.prefix).arg("-c").arg(&files.conf);
    let proc = Proc::spawn("nginx", cmd, &env.work.join("nginx.log"))?;
    Ok(Running {
        target: Target::Nginx,
        http: format!("127.0.0.1:{}", files.ports.0),
        https: Some(format!("127.0.0.1:{}", files.ports.1)),
        proc: Some(proc),
        admin: None,
        nginx: Some(files),
    })
}

/// Starts HAProxy in the foreground, one process with one thread per core.
pub fn start_haproxy(env: &Env) -> Result<Running> {
    let dir = fresh_dir(env, "haproxy")?;
    let (http, https) = (port()?, port()?);
    let mut conf = String::new();
    write!(
        conf,
        r#"# Generated by the Strait load suite.
global
    nbthread {workers}
    maxconn 4096
    ssl-default-bind-options ssl-min-ver TLSv1.2
defaults
    mode http
    option http-keep-alive
    option forwardfor
    timeout connect 5s
    timeout client 75s
    timeout server 60s
    timeout http-keep-alive 75s
frontend bench
    bind 127.0.0.1:{http}
    bind 127.0.0.1:{https} ssl crt {pem} alpn http/1.1
    http-request set-header X-Forwarded-Proto https if {{ ssl_fc }}
    http-request set-header X-Forwarded-Proto http if !{{ ssl_fc }}
    default_backend echo
backend echo
    http-reuse safe
    server echo {upstream}
"#,
        workers = env.workers,
        pem = env.pem_file().display(),
        upstream = env.upstream[0],
    )?;
    let path = dir.join("haproxy.cfg");
    fs::write(&path, conf)?;
    let mut cmd = Command::new("haproxy");
    cmd.arg("-db").arg("-f").arg(&path);
    let proc = Proc::spawn("haproxy", cmd, &env.work.join("haproxy.log"))?;
    Ok(Running {
        target: Target::Haproxy,
        http: format!("127.0.0.1:{http}"),
        https: Some(format!("127.0.0.1:{https}")),
        proc: Some(proc),
        admin: None,
        nginx: None,
    })
}
