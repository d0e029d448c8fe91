//! A manifests folder in a temp dir, and builders for the objects tests need.
//!
//! Builders produce `serde_json::Value`s; files are written as JSON (`.json`) or as a
//! `kind: List` so one file can hold a whole scenario. Hand-written YAML goes through
//! [`Manifests::write`] as text.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// A temporary manifests folder.
pub struct Manifests {
    dir: tempfile::TempDir,
}

impl Default for Manifests {
    fn default() -> Self {
        Self::new()
    }
}

impl Manifests {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `text` to `name` atomically (a hidden temp file renamed into place), as an
    /// editor or `kubectl`-style tool would.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let target = self.dir.path().join(name);
        let tmp = self.dir.path().join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).expect("write manifest");
        std::fs::rename(&tmp, &target).expect("rename manifest");
        target
    }

    /// Writes objects as a `kind: List` JSON file.
    pub fn write_list(&self, name: &str, items: &[Value]) -> PathBuf {
        let list = json!({"apiVersion": "v1", "kind": "List", "items": items});
        self.write(name, &serde_json::to_string_pretty(&list).expect("json"))
    }

    pub fn remove(&self, name: &str) {
        std::fs::remove_file(self.dir.path().join(name)).expect("remove manifest");
    }
}

/// Our IngressClass (`strait`, controller `strait.dev/ingress-controller`).
pub fn ingress_class(name: &str, controller: &str, default: bool) -> Value {
    let mut v = json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {"name": name},
        "spec": {"controller": controller}
    });
    if default {
        v["metadata"]["annotations"] =
            json!({"ingressclass.kubernetes.io/is-default-class": "true"});
    }
    v
}

/// Our IngressClass, not the default class.
pub fn our_class() -> Value {
    ingress_class("strait", "strait.dev/ingress-controller", false)
}

/// A ClusterIP Service `ns/name` with one port `port` named `port_name`.
pub fn service(ns: &str, name: &str, port: u16, port_name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "type": "ClusterIP",
            "clusterIP": "10.96.0.10",
            "ports": [{"name": port_name, "port": port, "protocol": "TCP"}]
        }
    })
}

/// One EndpointSlice endpoint: address, ready, node name.
#[derive(Clone, Debug)]
pub struct Ep {
    pub ip: String,
    pub ready: bool,
    pub serving: bool,
    pub terminating: bool,
    pub node: Option<String>,
}

impl Ep {
    pub fn ready(addr: SocketAddr) -> Self {
        Self {
            ip: addr.ip().to_string(),
            ready: true,
            serving: true,
            terminating: false,
            node: None,
        }
    }

    pub fn on_node(mut self, node: &str) -> Self {
        self.node = Some(node.to_owned());
        self
    }

    pub fn not_ready(mut self) -> Self {
        self.ready = false;
        self.serving = false;
        self
    }
}

/// An EndpointSlice for Service `ns/svc` with a port named `port_name` = `port`.
pub fn endpoint_slice(
    ns: &str,
    slice: &str,
    svc: &str,
    port_name: &str,
    port: u16,
    eps: &[Ep],
) -> Value {
    let endpoints: Vec<Value> = eps
        .iter()
        .map(|e| {
            let mut v = json!({
                "addresses": [e.ip],
                "conditions": {"ready": e.ready, "serving": e.serving, "terminating": e.terminating}
            });
            if let Some(n) = &e.node {
                v["nodeName"] = json!(n);
            }
            v
        })
        .collect();
    json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": slice,
            "namespace": ns,
            "labels": {"kubernetes.io/service-name": svc}
        },
        "addressType": "IPv4",
        "ports": [{"name": port_name, "port": port, "protocol": "TCP"}],
        "endpoints": endpoints
    })
}

/// A Service named `svc` (port 80, name `http`) whose endpoints are the given echo backends
/// (all on the same port, as pods of one Deployment would be).
pub fn backend(ns: &str, svc: &str, addrs: &[SocketAddr]) -> Vec<Value> {
    let port = addrs.first().map_or(80, SocketAddr::port);
    let eps: Vec<Ep> = addrs.iter().map(|a| Ep::ready(*a)).collect();
    vec![
        service(ns, svc, 80, "http"),
        endpoint_slice(ns, &format!("{svc}-1"), svc, "http", port, &eps),
    ]
}

/// A Node with an InternalIP, Ready.
pub fn node(name: &str, ip: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "status": {
            "addresses": [{"type": "InternalIP", "address": ip}],
            "conditions": [{"type": "Ready", "status": "True"}]
        }
    })
}

/// Builder for an Ingress.
#[derive(Clone, Debug)]
pub struct IngressB {
    v: Value,
}

impl IngressB {
    /// `ns/name` with class `strait` and a creation timestamp (RFC 3339).
    pub fn new(ns: &str, name: &str) -> Self {
        Self {
            v: json!({
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {"name": name, "namespace": ns,
                             "creationTimestamp": "2026-01-01T00:00:00Z"},
                "spec": {"ingressClassName": "strait", "rules": []}
            }),
        }
    }

    pub fn created(mut self, ts: &str) -> Self {
        self.v["metadata"]["creationTimestamp"] = json!(ts);
        self
    }

    pub fn class(mut self, class: Option<&str>) -> Self {
        match class {
            Some(c) => self.v["spec"]["ingressClassName"] = json!(c),
            None => {
                if let Some(spec) = self.v["spec"].as_object_mut() {
                    spec.remove("ingressClassName");
                }
            }
        }
        self
    }

    pub fn annotation(mut self, k: &str, val: &str) -> Self {
        self.v["metadata"]["annotations"][k] = json!(val);
        self
    }

    /// Adds a rule: host ("" for none), path, pathType, Service name and port (number).
    pub fn rule(mut self, host: &str, path: &str, kind: &str, svc: &str, port: u16) -> Self {
        let path = json!({
            "path": path,
            "pathType": kind,
            "backend": {"service": {"name": svc, "port": {"number": port}}}
        });
        let mut rule = json!({"http": {"paths": [path]}});
        if !host.is_empty() {
            rule["host"] = json!(host);
        }
        self.v["spec"]["rules"]
            .as_array_mut()
            .expect("rules is an array")
            .push(rule);
        self
    }

    pub fn default_backend(mut self, svc: &str, port: u16) -> Self {
        self.v["spec"]["defaultBackend"] =
            json!({"service": {"name": svc, "port": {"number": port}}});
        self
    }

    /// Adds a `spec.tls` entry: hosts (none: the rule hosts its certificate covers) and the
    /// Secret (none: the default certificate).
    pub fn tls(mut self, hosts: &[&str], secret: Option<&str>) -> Self {
        let mut entry = json!({});
        if !hosts.is_empty() {
            entry["hosts"] = json!(hosts);
        }
        if let Some(secret) = secret {
            entry["secretName"] = json!(secret);
        }
        match self.v["spec"]["tls"].as_array_mut() {
            Some(entries) => entries.push(entry),
            None => self.v["spec"]["tls"] = json!([entry]),
        }
        self
    }

    pub fn build(self) -> Value {
        self.v
    }
}
