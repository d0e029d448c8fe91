//! What a per-route policy costs: one Strait, one upstream, HTTP/1.1 keep-alive load (wrk, as
//! the keep-alive scenario) against one host per policy — none, a source allow-list, basic
//! auth answered from the verification cache, a rate limit that is never reached, CORS, a
//! canary taking half the requests by weight, cookie session affinity with a kept session, consistent hashing by `$request_uri`, and round robin
//! and EWMA balancing over a two-endpoint Service (both upstream addresses) — in
//! alternating order within every repetition. Reports requests/s and CPU per request beside
//! the plain route's.

use std::fmt::{self, Write as _};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::json;
use strait_e2e::manifests::{IngressB, backend};

use super::Options;
use super::clients::wrk_with;
use super::procs::cpu_seconds;
use super::report::markdown::{spread_cell, table};
use super::targets::{Env, PLAIN_HOST, echo_backend, fresh_dir, start_strait, write_list};

const NGINX: &str = "nginx.ingress.kubernetes.io";

/// `bob:bcrypt-pw` as `htpasswd -B` writes it (bcrypt, cost 5).
const HTPASSWD: &str = "bob:$2y$05$abcdefghijklmnopqrstuufhXdHJtkiUiNQ6n8/s9Kw6bfnPI6Ytq\n";

/// The measured policies, in run order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    None,
    AllowList,
    BasicAuth,
    RateLimit,
    Cors,
    /// A canary Ingress with `canary-weight: 50` beside the host's main Ingress.
    Canary,
    Affinity,
    Hashing,
    /// Round robin over two endpoints: the baseline of the balancing rows.
    RoundRobin2,
    /// `load-balance: ewma` over the same two endpoints.
    Ewma2,
}

impl Policy {
    pub const ALL: [Policy; 10] = [
        Policy::None,
        Policy::AllowList,
        Policy::BasicAuth,
        Policy::RateLimit,
        Policy::Cors,
        Policy::Canary,
        Policy::Affinity,
        Policy::Hashing,
        Policy::RoundRobin2,
        Policy::Ewma2,
    ];

    /// The Service of the policy's host: the balancing rows need two endpoints.
    fn service(self) -> &'static str {
        match self {
            Policy::RoundRobin2 | Policy::Ewma2 => "echo2",
            _ => "echo",
        }
    }

    fn host(self) -> &'static str {
        match self {
            Policy::None => PLAIN_HOST,
            Policy::AllowList => "allow.test",
            Policy::BasicAuth => "auth.test",
            Policy::RateLimit => "limit.test",
            Policy::Cors => "cors.test",
            Policy::Canary => "canary.test",
            Policy::Affinity => "affinity.test",
            Policy::Hashing => "hash.test",
            Policy::RoundRobin2 => "rr2.test",
            Policy::Ewma2 => "ewma2.test",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Policy::None => "none (plain route)",
            Policy::AllowList => "allow-list (`allowlist-source-range`, 3 CIDRs)",
            Policy::BasicAuth => "basic auth, bcrypt, verification cache hit",
            Policy::RateLimit => "rate limit not reached (`limit-rps: 100000`)",
            Policy::Cors => "CORS, allowed origin echoed",
            Policy::Canary => "canary by weight (`canary-weight: 50`, two-endpoint canary backend)",
            Policy::Affinity => "cookie affinity, balanced, session kept (no Set-Cookie)",
            Policy::Hashing => "consistent hashing (`upstream-hash-by: $request_uri`)",
            Policy::RoundRobin2 => "round robin over two endpoints",
            Policy::Ewma2 => "`load-balance: ewma` over two endpoints",
        }
    }

    /// The Ingress annotations of the policy's host.
    fn annotations(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Policy::None | Policy::RoundRobin2 | Policy::Canary => &[],
            Policy::Ewma2 => &[("load-balance", "ewma")],
            Policy::AllowList => &[(
                "allowlist-source-range",
                "10.0.0.0/8, 192.168.0.0/16, 127.0.0.0/8",
            )],
            Policy::BasicAuth => &[
                ("auth-type", "basic"),
                ("auth-secret", "bench-htpasswd"),
                ("auth-realm", "bench"),
            ],
            Policy::RateLimit => &[("limit-rps", "100000")],
            Policy::Cors => &[
                ("enable-cors", "true"),
                (
                    "cors-allow-origin",
                    "https://app.example, https://other.example",
                ),
            ],
            Policy::Affinity => &[("affinity", "cookie")],
            Policy::Hashing => &[("upstream-hash-by", "$request_uri")],
        }
    }

    /// Request headers of the policy's load (beyond Host).
    fn headers(self) -> &'static [&'static str] {
        match self {
            Policy::BasicAuth => &["Authorization: Basic Ym9iOmJjcnlwdC1wdw=="],
            Policy::Cors => &["Origin: https://app.example"],
            // Any ring position is a valid balanced session: the request keeps it.
            Policy::Affinity => &["Cookie: INGRESSCOOKIE=0123456789abcdef|0000000000000000"],
            _ => &[],
        }
    }
}

/// One measured run of one policy.
#[derive(Clone, Debug)]
pub struct PolicySample {
    pub policy: Policy,
    pub rps: f64,
    pub cpu_us_per_request: f64,
    pub errors: u64,
}

/// The manifests: the `echo` backend, the htpasswd Secret and one Ingress per policy.
fn manifests(env: &Env) -> Result<std::path::PathBuf> {
    let dir = fresh_dir(env, "policy-manifests")?;
    let mut objects = vec![json!({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"namespace": "default", "name": "bench-htpasswd"},
        "stringData": {"auth": HTPASSWD},
    })];
    for policy in Policy::ALL {
        let name = policy.host().trim_end_matches(".test");
        let mut ingress =
            IngressB::new("default", name).rule(policy.host(), "/", "Prefix", policy.service(), 80);
        for (key, value) in policy.annotations() {
            ingress = ingress.annotation(&format!("{NGINX}/{key}"), value);
        }
        objects.push(ingress.build());
    }
    // The canary Ingress of the canary host: half its requests go to `echo2` by weight.
    let host = Policy::Canary.host();
    let canary = IngressB::new("default", "canary-weighted")
        .rule(host, "/", "Prefix", "echo2", 80)
        .annotation(&format!("{NGINX}/canary"), "true")
        .annotation(&format!("{NGINX}/canary-weight"), "50");
    objects.push(canary.build());
    write_list(&dir.join("policies.json"), &objects)?;
    write_list(&dir.join("echo.json"), &echo_backend(env, 0)?)?;
    let both = [env.upstream[0].parse()?, env.upstream[1].parse()?];
    write_list(&dir.join("echo2.json"), &backend("default", "echo2", &both))?;
    Ok(dir)
}

/// Runs every policy `options.reps` times against one Strait.
pub fn run(env: &Env, options: &Options) -> Result<Vec<PolicySample>> {
    let mut strait = start_strait(env, &manifests(env)?, &[])?;
    strait.wait_proxying()?;
    let pid = strait.pid().context("Strait has a process")?;
    let url = format!("http://{}/", strait.http);
    let load = |policy: Policy, seconds: u64| {
        let duration = Duration::from_secs(seconds);
        let (host, headers) = (policy.host(), policy.headers());
        wrk_with(&url, host, headers, false, options.connections, duration, 0)
    };
    let mut samples = Vec::new();
    for rep in 0..options.reps {
        for policy in Policy::ALL {
            let warm = load(policy, 1).with_context(|| format!("warm-up of {policy:?}"))?;
            if warm.requests == 0 {
                bail!(
                    "policy {policy:?}: no request answered 2xx in the warm-up ({} errors); see {}",
                    warm.errors,
                    env.work.join("strait.log").display()
                );
            }
            let before = cpu_seconds(pid);
            let result = load(policy, options.duration)?;
            let cpu = cpu_seconds(pid) - before;
            if let Some(proc) = strait.proc.as_mut() {
                proc.check_alive()?;
            }
            let sample = PolicySample {
                policy,
                rps: result.requests as f64 / result.seconds,
                cpu_us_per_request: cpu * 1e6 / result.requests.max(1) as f64,
                errors: result.errors,
            };
            eprintln!(
                "rep {} · policy {:<48} · {:>8.0} req/s · cpu {:.1} µs/req · {} errors",
                rep + 1,
                policy.title(),
                sample.rps,
                sample.cpu_us_per_request,
                sample.errors
            );
            samples.push(sample);
        }
    }
    drop(strait);
    Ok(samples)
}

/// The report's table: per policy, requests/s and CPU per request, and the CPU beside the
/// plain route's (median over median).
pub fn section(md: &mut String, samples: &[PolicySample]) -> fmt::Result {
    let of = |policy: Policy, f: fn(&PolicySample) -> f64| -> Vec<f64> {
        samples
            .iter()
            .filter(|s| s.policy == policy)
            .map(f)
            .collect()
    };
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied()
    };
    let plain_cpu = median(of(Policy::None, |s| s.cpu_us_per_request));
    let rows: Vec<Vec<String>> = Policy::ALL
        .iter()
        .filter(|&&p| samples.iter().any(|s| s.policy == p))
        .map(|&p| {
            let cpu = of(p, |s| s.cpu_us_per_request);
            let extra = median(cpu.clone())
                .zip(plain_cpu)
                .map_or("—".into(), |(c, plain)| format!("{:+.1}", c - plain));
            let errors: u64 = samples
                .iter()
                .filter(|s| s.policy == p)
                .map(|s| s.errors)
                .sum();
            vec![
                p.title().to_string(),
                spread_cell(&of(p, |s| s.rps), 0),
                spread_cell(&cpu, 1),
                extra,
                errors.to_string(),
            ]
        })
        .collect();
    writeln!(
        md,
        "### Per-route policies (Strait, HTTP/1.1 keep-alive)\n\nOne Strait, one host per \
         policy, the keep-alive scenario's client; the policies alternate within each \
         repetition. Medians (min–max).\n"
    )?;
    table(
        md,
        "policy | req/s | CPU µs/req | CPU µs/req beyond plain | errors",
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(policy: Policy, rps: f64, cpu: f64) -> PolicySample {
        PolicySample {
            policy,
            rps,
            cpu_us_per_request: cpu,
            errors: 0,
        }
    }

    #[test]
    fn section_puts_each_policy_beside_the_plain_route() {
        let samples = [
            sample(Policy::None, 40_000.0, 20.0),
            sample(Policy::None, 42_000.0, 22.0),
            sample(Policy::None, 41_000.0, 21.0),
            sample(Policy::BasicAuth, 30_000.0, 26.5),
        ];
        let mut md = String::new();
        section(&mut md, &samples).unwrap();
        assert!(
            md.contains(
                "| none (plain route) | 41,000 (40,000–42,000) | 21.0 (20.0–22.0) | +0.0 | 0 |"
            ),
            "{md}"
        );
        assert!(
            md.contains(
                "| basic auth, bcrypt, verification cache hit | 30,000 | 26.5 | +5.5 | 0 |"
            ),
            "{md}"
        );
        assert!(
            !md.contains("CORS"),
            "policies that did not run have no row: {md}"
        );
    }

    #[test]
    fn every_policy_has_its_own_host() {
        let mut hosts: Vec<_> = Policy::ALL.iter().map(|p| p.host()).collect();
        hosts.sort_unstable();
        hosts.dedup();
        assert_eq!(hosts.len(), Policy::ALL.len());
    }
}
