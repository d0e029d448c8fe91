//! Building a [`RouteTable`]: routes claimed in precedence order, backends resolved once per
//! Service port and mode, certificates, regex hosts sealed, and the names added after the
//! rules (aliases, redirect hosts).

use std::collections::HashMap;
use std::sync::Arc;

use super::{
    Backend, BackendId, BackendMode, Endpoints, HostRoutes, Route, RouteTable, Routes, ServiceRef,
    Unavailable,
};
use crate::host::HostPattern;
use crate::model::ObjectKey;
use crate::paths::PathKind;
use crate::paths::regex::{RegexError, RegexPath, RegexRejected};
use crate::tls::Certificate;

/// A backend's endpoint state and its `cluster_node_port`, as the compile resolves them.
pub(crate) type Resolved = (Result<Endpoints, Unavailable>, Option<u16>);

/// Builds a [`RouteTable`]. Callers insert in precedence order (older Ingress first): the first
/// claim on a host + path + pathType, or on the default backend, wins; later claims get the
/// winner back to report the conflict.
#[derive(Debug, Default)]
pub struct TableBuilder {
    routes: Routes,
    backends: Vec<Arc<Backend>>,
    backend_ids: HashMap<(ServiceRef, BackendMode), BackendId>,
}

impl TableBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// The id for a Service port in a mode, computing its endpoints with `resolve` the first
    /// time it is seen. Routes to the same Service port and mode share one backend (and so one
    /// round-robin cursor).
    pub fn backend(
        &mut self,
        service: ServiceRef,
        mode: BackendMode,
        resolve: impl FnOnce(&ServiceRef, BackendMode) -> Result<Endpoints, Unavailable>,
    ) -> BackendId {
        self.resolved_backend(service, mode, |service, mode| {
            (resolve(service, mode), None)
        })
    }

    /// [`TableBuilder::backend`] for the compile, whose `resolve` also gives the backend's
    /// `cluster_node_port` (what the endpoint fast path resolves it from).
    pub(crate) fn resolved_backend(
        &mut self,
        service: ServiceRef,
        mode: BackendMode,
        resolve: impl FnOnce(&ServiceRef, BackendMode) -> Resolved,
    ) -> BackendId {
        if let Some(id) = self.backend_ids.get(&(service.clone(), mode)) {
            return *id;
        }
        let (state, cluster_node_port) = resolve(&service, mode);
        // One backend per distinct Service port and mode in the cluster: far below 2^32.
        let id = BackendId(u32::try_from(self.backends.len()).expect("fewer than 2^32 backends"));
        self.backends.push(Arc::new(Backend {
            service: Arc::new(service.clone()),
            mode,
            state,
            keyed: None,
            cluster_node_port,
        }));
        self.backend_ids.insert((service, mode), id);
        id
    }

    /// Adds a rule. `Err` carries the route that already owns the same host + kind + path.
    pub fn insert(
        &mut self,
        host: &HostPattern,
        kind: PathKind,
        path: &str,
        route: Route,
    ) -> Result<(), &Route> {
        self.paths_mut(host).insert(kind, path, route)
    }

    /// Makes `host` match by regex (docs/architecture.md, "Regex paths and rewrites"), before
    /// any of its paths is inserted; `keep_exact`: its `Exact` paths stay exact.
    pub fn regex_host(&mut self, host: &HostPattern, keep_exact: bool) {
        self.paths_mut(host).use_regex(keep_exact);
    }

    /// Adds a rule on a regex host, matched by `locations`; see [`PathRouter::insert_regex`].
    pub fn insert_regex(
        &mut self,
        host: &HostPattern,
        kind: PathKind,
        path: &str,
        locations: Vec<RegexPath>,
        route: Route,
    ) -> Result<(), RegexRejected<'_, Route>> {
        self.paths_mut(host)
            .insert_regex(kind, path, locations, route)
    }

    /// Compiles the regex hosts' paths. Returns the hosts whose paths could not be compiled
    /// together (none of them matches), with the Ingresses that have paths there.
    pub fn seal_regex(&mut self) -> Vec<(HostPattern, RegexError, Vec<ObjectKey>)> {
        let routes = &mut self.routes;
        let mut failed = Vec::new();
        let mut seal = |host: &dyn Fn() -> HostPattern, paths: &mut HostRoutes| {
            if let Err(e) = paths.seal() {
                let mut ingresses: Vec<ObjectKey> =
                    paths.values().map(|r| r.ingress.clone()).collect();
                ingresses.sort();
                ingresses.dedup();
                failed.push((host(), e, ingresses));
            }
        };
        for (h, paths) in routes.exact.iter_mut().filter(|(_, p)| p.is_regex()) {
            seal(&|| HostPattern::Exact(h.to_string()), paths);
        }
        for (s, paths) in routes.wildcard.iter_mut().filter(|(_, p)| p.is_regex()) {
            seal(&|| HostPattern::Wildcard(s.to_string()), paths);
        }
        seal(&|| HostPattern::Any, &mut routes.any_host);
        failed
    }

    /// The route that already owns host + kind + path, if any: lets the caller report a conflict
    /// before resolving a backend it would not use.
    pub fn claim(&self, host: &HostPattern, kind: PathKind, path: &str) -> Option<&Route> {
        let paths = match host {
            HostPattern::Exact(h) => self.routes.exact.get(h.as_str())?,
            HostPattern::Wildcard(s) => self.routes.wildcard.get(s.as_str())?,
            HostPattern::Any => &self.routes.any_host,
        };
        paths.get(kind, path)
    }

    /// The default backend set so far, if any.
    pub fn current_default_backend(&self) -> Option<&Route> {
        self.routes.default_backend.as_ref()
    }

    /// Gives backend `id` the ring and cookie tokens of its endpoints under `secret` (a route
    /// chooses its endpoints by a request value), with a subset ring of `subset` endpoints
    /// when given. Called again for the same backend, it adds the subset size.
    pub fn key_backend(&mut self, id: BackendId, secret: &Arc<[u8]>, subset: Option<u32>) {
        let Some(slot) = self.backends.get_mut(id.0 as usize) else {
            return;
        };
        let mut sizes: Vec<u32> = slot
            .keyed
            .as_ref()
            .map(|k| k.subset_sizes().collect())
            .unwrap_or_default();
        if slot.keyed.is_some() && subset.is_none_or(|s| sizes.contains(&s)) {
            return;
        }
        sizes.extend(subset);
        let list = slot.state.as_ref().map_or(&[][..], |eps| eps.list());
        let keyed = super::hash_ring::Keyed::build(Arc::clone(secret), list, &sizes);
        let backend = Arc::make_mut(slot);
        backend.keyed = Some(Arc::new(keyed));
    }

    /// A backend handed out by [`TableBuilder::backend`].
    pub fn backend_of(&self, id: BackendId) -> &Backend {
        &self.backends[id.0 as usize]
    }

    /// The route that owns host + kind + path (`None`: the default backend), to change it.
    pub fn route_mut(&mut self, at: Option<(&HostPattern, PathKind, &str)>) -> Option<&mut Route> {
        let Some((host, kind, path)) = at else {
            return self.routes.default_backend.as_mut();
        };
        let routes = &mut self.routes;
        let paths = match host {
            HostPattern::Exact(h) => routes.exact.get_mut(h.as_str())?,
            HostPattern::Wildcard(s) => routes.wildcard.get_mut(s.as_str())?,
            HostPattern::Any => &mut routes.any_host,
        };
        paths.get_mut(kind, path)
    }

    /// Sets the default backend unless one is set already (then `Err` carries the winner).
    pub fn default_backend(&mut self, route: Route) -> Result<(), &Route> {
        match self.routes.default_backend {
            Some(ref existing) => Err(existing),
            None => {
                self.routes.default_backend = Some(route);
                Ok(())
            }
        }
    }

    /// Claims `host`'s certificate unless it is claimed already (then `Err` carries the
    /// holder). Callers claim in precedence order, as for routes.
    pub fn tls_certificate(
        &mut self,
        host: &HostPattern,
        cert: Arc<Certificate>,
    ) -> Result<(), &Arc<Certificate>> {
        self.routes.tls.insert(host, cert)
    }

    /// Sets `host`'s client-certificate auth in the SNI map (the compile picks the winner).
    pub fn client_auth(&mut self, host: &HostPattern, auth: Arc<super::ClientAuth>) {
        self.routes.tls.set_client_auth(host, Some(auth));
    }

    /// Passes `host`'s TLS connections through to `backend` (`ssl-passthrough`).
    pub fn passthrough(&mut self, host: &HostPattern, backend: BackendId) {
        self.routes.tls.set_passthrough(host, backend);
    }

    /// The certificate served when no host name matches (`--default-ssl-certificate`).
    pub fn default_certificate(&mut self, cert: Arc<Certificate>) {
        self.routes.tls.set_default(cert);
    }

    /// The routes of `host` so far, if any.
    pub fn routes_of(&self, host: &HostPattern) -> Option<&HostRoutes> {
        let routes = &self.routes;
        let paths = match host {
            HostPattern::Exact(h) => routes.exact.get(h.as_str())?,
            HostPattern::Wildcard(s) => routes.wildcard.get(s.as_str())?,
            HostPattern::Any => &routes.any_host,
        };
        (!paths.is_empty()).then_some(paths)
    }

    /// Makes `alias` serve every route `of` serves (ingress-nginx's `server-alias`: one more
    /// name of the same server), with `of`'s certificate when it covers `alias`. `false`, and
    /// nothing changed, when `alias` has routes of its own (a real rule wins) or `of` has none.
    pub fn alias(&mut self, alias: &HostPattern, of: &HostPattern) -> bool {
        if alias == of || *alias == HostPattern::Any || self.routes_of(alias).is_some() {
            return false;
        }
        let Some(paths) = self.routes_of(of).cloned() else {
            return false;
        };
        *self.paths_mut(alias) = paths;
        self.share_certificate(alias, of);
        // The alias's routes carry `of`'s client auth: its handshakes must ask for the same.
        if let Some(auth) = self.routes.tls.client_auth_of(of).cloned() {
            self.routes.tls.set_client_auth(alias, Some(auth));
        }
        true
    }

    /// Makes `host` answer every path with `route` (ingress-nginx's `from-to-www-redirect`
    /// server), with `of`'s certificate when it covers `host`. `false`, and nothing changed,
    /// when `host` has routes of its own.
    pub fn redirect_host(&mut self, host: &HostPattern, of: &HostPattern, route: Route) -> bool {
        if *host == HostPattern::Any || self.routes_of(host).is_some() {
            return false;
        }
        // An empty router takes any first insert.
        let _ = self.paths_mut(host).insert(PathKind::Prefix, "/", route);
        self.share_certificate(host, of);
        true
    }

    fn paths_mut(&mut self, host: &HostPattern) -> &mut HostRoutes {
        match host {
            HostPattern::Exact(h) => self.routes.exact.entry(h.as_str().into()).or_default(),
            HostPattern::Wildcard(s) => self.routes.wildcard.entry(s.as_str().into()).or_default(),
            HostPattern::Any => &mut self.routes.any_host,
        }
    }

    /// Gives `host` the certificate `of` is served with, when that certificate covers `host`
    /// and `host` has none of its own (ingress-nginx serves an alias or a redirect server with
    /// its server's certificate only when the certificate is valid for the name).
    fn share_certificate(&mut self, host: &HostPattern, of: &HostPattern) {
        let tls = &self.routes.tls;
        let cert = match of {
            HostPattern::Exact(name) => tls.resolve(Some(name)),
            other => tls.get(other),
        };
        if let Some(cert) = cert.filter(|c| c.covers(host)).cloned()
            && tls.get(host).is_none()
        {
            let _ = self.routes.tls.insert(host, cert);
        }
    }

    pub fn build(mut self) -> RouteTable {
        // Reported by the compile, which seals first; sealing again is a no-op.
        let _ = self.seal_regex();
        self.routes.tls.seal_client_auth(self.routes.exact.keys());
        RouteTable {
            generation: 0,
            routes: Arc::new(self.routes),
            backends: self.backends.into(),
        }
    }
}
