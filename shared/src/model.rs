//! Object identities and diagnostics: the vocabulary shared by the translation, the controller
//! (logs, and later Events and status) and the proxy (metric labels).

use std::fmt;

/// Namespace and name of a Kubernetes object. Cluster-scoped objects (IngressClass, Node) have
/// an empty namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// Key of a cluster-scoped object.
    pub fn cluster(name: impl Into<String>) -> Self {
        Self::new("", name)
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            f.write_str(&self.name)
        } else {
            write!(f, "{}/{}", self.namespace, self.name)
        }
    }
}

/// The kinds Strait reads. Anything else in a manifest is ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    IngressClass,
    Ingress,
    Service,
    EndpointSlice,
    Secret,
    /// Read only as `auth-proxy-set-headers` header maps.
    ConfigMap,
    Node,
}

impl Kind {
    /// Every kind, in the order a fresh store should take them.
    pub const ALL: [Kind; 7] = [
        Kind::IngressClass,
        Kind::Ingress,
        Kind::Service,
        Kind::EndpointSlice,
        Kind::Secret,
        Kind::ConfigMap,
        Kind::Node,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::IngressClass => "IngressClass",
            Kind::Ingress => "Ingress",
            Kind::Service => "Service",
            Kind::EndpointSlice => "EndpointSlice",
            Kind::Secret => "Secret",
            Kind::ConfigMap => "ConfigMap",
            Kind::Node => "Node",
        }
    }

    /// The kind for an `apiVersion` + `kind` pair Strait reads.
    pub fn from_type_meta(api_version: &str, kind: &str) -> Option<Self> {
        match (api_version, kind) {
            ("networking.k8s.io/v1", "IngressClass") => Some(Self::IngressClass),
            ("networking.k8s.io/v1", "Ingress") => Some(Self::Ingress),
            ("v1", "Service") => Some(Self::Service),
            ("v1", "Secret") => Some(Self::Secret),
            ("v1", "ConfigMap") => Some(Self::ConfigMap),
            ("v1", "Node") => Some(Self::Node),
            ("discovery.k8s.io/v1", "EndpointSlice") => Some(Self::EndpointSlice),
            _ => None,
        }
    }

    /// Whether objects of this kind live in a namespace.
    pub fn is_namespaced(self) -> bool {
        !matches!(self, Self::IngressClass | Self::Node)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A kind plus a key: names one object in a diagnostic.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectRef {
    pub kind: Kind,
    pub key: ObjectKey,
}

impl ObjectRef {
    pub fn new(kind: Kind, key: ObjectKey) -> Self {
        Self { kind, key }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.key)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// The object (or part of it) was accepted, but something deserves attention.
    Warning,
    /// Part of the object was rejected: its routes are not in the table.
    Error,
}

/// Why a diagnostic was raised. Bounded, so it can be a metric label and an Event reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// A rule or default backend names a Service that does not exist.
    ServiceMissing,
    /// The Service exists but has no port matching the backend's number or name.
    ServicePortMissing,
    /// The path is not valid for its pathType.
    InvalidPath,
    /// The pathType is missing or unknown.
    InvalidPathType,
    /// The host is not a valid host name or one-label wildcard.
    InvalidHost,
    /// A backend is neither a Service nor supported (e.g. a `resource` backend).
    UnsupportedBackend,
    /// Another Ingress owns the same host + path + pathType (or default backend).
    Conflict,
    /// An annotation value could not be parsed; the annotation's default applies.
    InvalidAnnotation,
    /// The object itself could not be read (bad shape, missing fields).
    InvalidObject,
    /// The same object appears twice in the source; the later copy was ignored.
    DuplicateObject,
    /// The backend mode needs something the Service lacks: a `nodePort` (nodeport mode) or a
    /// ClusterIP (service mode).
    BackendModeUnsupported,
    /// A `spec.tls` entry (or `--default-ssl-certificate`) names a Secret that does not exist;
    /// its hosts get the default certificate.
    TlsSecretMissing,
    /// `auth-secret` names a Secret that does not exist (basic auth; routes refused).
    AuthSecretMissing,
    /// The basic-auth Secret has no usable htpasswd data (routes refused).
    AuthSecretInvalid,
    /// `auth-proxy-set-headers` names a ConfigMap that does not exist (routes refused).
    ConfigMapMissing,
    /// The ConfigMap's data are not a usable header map (routes refused).
    ConfigMapInvalid,
    /// The Secret's TLS material is unusable (wrong type, bad PEM, key not matching the
    /// certificate); its hosts get the default certificate.
    TlsSecretInvalid,
    /// A host listed in `spec.tls` is not among the certificate's names; that host gets the
    /// default certificate.
    TlsHostNotCovered,
    /// The certificate is past its notAfter (served anyway, with this warning) or before its
    /// notBefore.
    TlsCertificateExpired,
    /// The Ingress carries annotations Strait does not implement yet: security-relevant ones
    /// refuse its routes (503) unless `--unsupported-security-annotations=serve`; a canary
    /// Ingress is set aside; other keys have no effect.
    UnsupportedAnnotation,
    /// The Ingress carries a snippet annotation: never executed, the Ingress is refused.
    RefusedAnnotation,
    /// The Ingress carries annotations Strait ignores (no effect on traffic).
    IgnoredAnnotation,
    /// An annotation under one of our prefixes that no one knows (a typo?).
    UnknownAnnotation,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::ServiceMissing => "ServiceMissing",
            Reason::ServicePortMissing => "ServicePortMissing",
            Reason::InvalidPath => "InvalidPath",
            Reason::InvalidPathType => "InvalidPathType",
            Reason::InvalidHost => "InvalidHost",
            Reason::UnsupportedBackend => "UnsupportedBackend",
            Reason::Conflict => "Conflict",
            Reason::InvalidAnnotation => "InvalidAnnotation",
            Reason::InvalidObject => "InvalidObject",
            Reason::DuplicateObject => "DuplicateObject",
            Reason::BackendModeUnsupported => "BackendModeUnsupported",
            Reason::TlsSecretMissing => "TlsSecretMissing",
            Reason::AuthSecretMissing => "AuthSecretMissing",
            Reason::AuthSecretInvalid => "AuthSecretInvalid",
            Reason::ConfigMapMissing => "ConfigMapMissing",
            Reason::ConfigMapInvalid => "ConfigMapInvalid",
            Reason::TlsSecretInvalid => "TlsSecretInvalid",
            Reason::TlsHostNotCovered => "TlsHostNotCovered",
            Reason::TlsCertificateExpired => "TlsCertificateExpired",
            Reason::UnsupportedAnnotation => "UnsupportedAnnotation",
            Reason::RefusedAnnotation => "RefusedAnnotation",
            Reason::IgnoredAnnotation => "IgnoredAnnotation",
            Reason::UnknownAnnotation => "UnknownAnnotation",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finding about one object, produced while building a table.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Diagnostic {
    pub object: ObjectRef,
    pub severity: Severity,
    pub reason: Reason,
    /// Human-readable detail for logs and Events; never used as a metric label.
    pub message: String,
}

impl Diagnostic {
    pub fn error(object: ObjectRef, reason: Reason, message: impl Into<String>) -> Self {
        Self {
            object,
            severity: Severity::Error,
            reason,
            message: message.into(),
        }
    }

    pub fn warning(object: ObjectRef, reason: Reason, message: impl Into<String>) -> Self {
        Self {
            object,
            severity: Severity::Warning,
            reason,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.object, self.reason, self.message)
    }
}
