//! Hand-built objects and small helpers over the public API.

use serde_json::{Value, json};
use strait_shared::table::{RouteMatch, Unavailable};
use strait_shared::{CompileConfig, Compiled, Diagnostic, Index, Object, Reason, RouteTable};

/// Decodes a manifest the way the manifests source does.
pub fn object(value: Value) -> Object {
    Object::from_value(value)
        .expect("test manifest decodes")
        .expect("test manifest is of a kind Strait reads")
}

/// An Index plus the config to compile it with.
#[derive(Default)]
pub struct World {
    pub index: Index,
    pub config: CompileConfig,
}

impl World {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn apply(&mut self, value: Value) -> &mut Self {
        self.index.apply(object(value));
        self
    }

    pub fn compile(&self) -> Compiled {
        self.index.compile(&self.config)
    }

    pub fn table(&self) -> RouteTable {
        self.compile().table
    }
}

/// `namespace/name` of the Ingress that owns the match for `host` + `path`.
pub fn owner(table: &RouteTable, host: &str, path: &str) -> Option<String> {
    table
        .lookup(host, path)
        .map(|m| m.route.ingress.to_string())
}

/// Addresses and weights behind the match, or why it cannot serve.
pub fn endpoints(m: &RouteMatch<'_>) -> Result<Vec<(String, u32)>, Unavailable> {
    m.backend.state.as_ref().map_err(Clone::clone).map(|eps| {
        eps.list()
            .iter()
            .map(|e| (e.addr.to_string(), e.weight))
            .collect()
    })
}

/// Addresses and weights for `host` + `path`; panics when nothing matches.
pub fn served(
    table: &RouteTable,
    host: &str,
    path: &str,
) -> Result<Vec<(String, u32)>, Unavailable> {
    let m = table
        .lookup(host, path)
        .unwrap_or_else(|| panic!("{host}{path} matches a route"));
    endpoints(&m)
}

/// Diagnostics with `reason`, as `"object: message"` strings.
pub fn with_reason(compiled: &Compiled, reason: Reason) -> Vec<String> {
    compiled
        .diagnostics
        .iter()
        .filter(|d| d.reason == reason)
        .map(|d: &Diagnostic| format!("{}: {}", d.object, d.message))
        .collect()
}

/// Expected addresses and weights.
pub fn ok(list: &[(&str, u32)]) -> Result<Vec<(String, u32)>, Unavailable> {
    Ok(list.iter().map(|(a, w)| ((*a).to_owned(), *w)).collect())
}

/// Ingress `default/app`: `a.example.com` Prefix `/` to `web` by port number 80.
pub fn app() -> Ing {
    Ing::new("default", "app").rule("a.example.com", vec![path("Prefix", "/", "web", 80)])
}

/// What `a.example.com/` is served by.
pub fn web_served(world: &World) -> Result<Vec<(String, u32)>, Unavailable> {
    served(&world.table(), "a.example.com", "/")
}

// ---- Ingress -------------------------------------------------------------------------------

/// An Ingress manifest under construction; `ingressClassName: strait` unless changed.
pub struct Ing(Value);

impl Ing {
    pub fn new(namespace: &str, name: &str) -> Self {
        Self(json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"namespace": namespace, "name": name},
            "spec": {"ingressClassName": "strait", "rules": []},
        }))
    }

    pub fn class(mut self, class: Option<&str>) -> Self {
        match class {
            Some(c) => self.0["spec"]["ingressClassName"] = json!(c),
            None => {
                self.spec().remove("ingressClassName");
            }
        }
        self
    }

    pub fn annotation(mut self, key: &str, value: &str) -> Self {
        self.0["metadata"]["annotations"][key] = json!(value);
        self
    }

    /// RFC 3339 creation time, e.g. `2024-01-01T00:00:00Z`.
    pub fn created(mut self, at: &str) -> Self {
        self.0["metadata"]["creationTimestamp"] = json!(at);
        self
    }

    /// A rule; `host` `""` means no host.
    pub fn rule(mut self, host: &str, paths: Vec<Value>) -> Self {
        let mut rule = json!({"http": {"paths": paths}});
        if !host.is_empty() {
            rule["host"] = json!(host);
        }
        self.rules().push(rule);
        self
    }

    /// A rule with no `http` section.
    pub fn bare_rule(mut self, host: &str) -> Self {
        self.rules().push(json!({"host": host}));
        self
    }

    /// A `spec.tls` entry; no hosts and `None` secret leave those fields out.
    pub fn tls(mut self, hosts: &[&str], secret: Option<&str>) -> Self {
        let mut entry = json!({});
        if !hosts.is_empty() {
            entry["hosts"] = json!(hosts);
        }
        if let Some(secret) = secret {
            entry["secretName"] = json!(secret);
        }
        match self.0["spec"]["tls"].as_array_mut() {
            Some(entries) => entries.push(entry),
            None => self.0["spec"]["tls"] = json!([entry]),
        }
        self
    }

    pub fn default_backend(mut self, service: &str, port: u16) -> Self {
        self.0["spec"]["defaultBackend"] = backend(service, port);
        self
    }

    pub fn build(self) -> Value {
        self.0
    }

    fn spec(&mut self) -> &mut serde_json::Map<String, Value> {
        self.0["spec"].as_object_mut().expect("spec is an object")
    }

    fn rules(&mut self) -> &mut Vec<Value> {
        self.0["spec"]["rules"]
            .as_array_mut()
            .expect("rules is an array")
    }
}

pub fn backend(service: &str, port: u16) -> Value {
    json!({"service": {"name": service, "port": {"number": port}}})
}

/// A path to `service:port` (by number).
pub fn path(kind: &str, path: &str, service: &str, port: u16) -> Value {
    json!({"path": path, "pathType": kind, "backend": backend(service, port)})
}

/// A path to `service` by port name.
pub fn path_to_port_name(kind: &str, path: &str, service: &str, port: &str) -> Value {
    json!({
        "path": path,
        "pathType": kind,
        "backend": {"service": {"name": service, "port": {"name": port}}},
    })
}

/// The common case: `Prefix /` to `web:80` under `host`.
pub fn simple(namespace: &str, name: &str, host: &str) -> Value {
    Ing::new(namespace, name)
        .rule(host, vec![path("Prefix", "/", "web", 80)])
        .build()
}

// ---- Service, EndpointSlice, Node, IngressClass ---------------------------------------------

/// A ClusterIP Service manifest under construction.
pub struct Svc(Value);

impl Svc {
    pub fn new(namespace: &str, name: &str) -> Self {
        Self(json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"namespace": namespace, "name": name},
            "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10", "ports": []},
        }))
    }

    /// A TCP port, optionally named.
    pub fn port(self, name: Option<&str>, port: u16) -> Self {
        self.push_port(name, port, None)
    }

    /// A TCP port with a nodePort; makes the Service type NodePort.
    pub fn node_port(mut self, name: Option<&str>, port: u16, node_port: u16) -> Self {
        self.0["spec"]["type"] = json!("NodePort");
        self.push_port(name, port, Some(node_port))
    }

    pub fn cluster_ip(mut self, ip: &str) -> Self {
        self.0["spec"]["clusterIP"] = json!(ip);
        self
    }

    pub fn local(mut self) -> Self {
        self.0["spec"]["externalTrafficPolicy"] = json!("Local");
        self
    }

    pub fn external_name(mut self, name: &str) -> Self {
        self.0["spec"] = json!({"type": "ExternalName", "externalName": name, "ports": []});
        self
    }

    pub fn build(self) -> Value {
        self.0
    }

    fn push_port(mut self, name: Option<&str>, port: u16, node_port: Option<u16>) -> Self {
        let mut p = json!({"port": port, "protocol": "TCP", "targetPort": port});
        if let Some(name) = name {
            p["name"] = json!(name);
        }
        if let Some(np) = node_port {
            p["nodePort"] = json!(np);
        }
        self.0["spec"]["ports"]
            .as_array_mut()
            .expect("ports is an array")
            .push(p);
        self
    }
}

/// An EndpointSlice for `service` with `(port name, number)` ports.
pub fn slice(
    namespace: &str,
    name: &str,
    service: &str,
    address_type: &str,
    ports: &[(Option<&str>, u16)],
    endpoints: Vec<Value>,
) -> Value {
    let ports: Vec<Value> = ports
        .iter()
        .map(|(n, p)| match n {
            Some(n) => json!({"name": n, "port": p, "protocol": "TCP"}),
            None => json!({"port": p, "protocol": "TCP"}),
        })
        .collect();
    json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "namespace": namespace,
            "name": name,
            "labels": {"kubernetes.io/service-name": service},
        },
        "addressType": address_type,
        "ports": ports,
        "endpoints": endpoints,
    })
}

/// A ready endpoint (no conditions at all means ready).
pub fn ready(ip: &str) -> Value {
    json!({"addresses": [ip], "conditions": {"ready": true}})
}

/// An endpoint with explicit conditions.
pub fn endpoint(ip: &str, ready: bool, serving: bool, terminating: bool) -> Value {
    json!({
        "addresses": [ip],
        "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
    })
}

/// A ready endpoint on a node.
pub fn ready_on(ip: &str, node: &str, pod: &str) -> Value {
    json!({
        "addresses": [ip],
        "conditions": {"ready": true},
        "nodeName": node,
        "targetRef": {"kind": "Pod", "name": pod},
    })
}

/// A Node with an InternalIP; `ready: None` omits `status.conditions`.
pub fn node(name: &str, internal_ip: &str, ready: Option<bool>) -> Value {
    let mut status = json!({"addresses": [
        {"type": "Hostname", "address": name},
        {"type": "InternalIP", "address": internal_ip},
    ]});
    if let Some(ready) = ready {
        let s = if ready { "True" } else { "False" };
        status["conditions"] = json!([{"type": "Ready", "status": s}]);
    }
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "status": status,
    })
}

pub fn ingress_class(name: &str, controller: &str, default: bool) -> Value {
    let mut v = json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {"name": name},
        "spec": {"controller": controller},
    });
    if default {
        v["metadata"]["annotations"] =
            json!({"ingressclass.kubernetes.io/is-default-class": "true"});
    }
    v
}

/// Service `web` (port 80, named `http`) with one ready pod 10.0.0.1:8080 in `namespace`.
pub fn web_service(world: &mut World, namespace: &str) {
    world.apply(Svc::new(namespace, "web").port(Some("http"), 80).build());
    world.apply(slice(
        namespace,
        "web-1",
        "web",
        "IPv4",
        &[(Some("http"), 8080)],
        vec![ready("10.0.0.1")],
    ));
}
