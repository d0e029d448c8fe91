//! `deploy/` and the `Dockerfile` against the binary they run. Every overlay of
//! `deploy/overlays/` is rendered with `kubectl kustomize` (which the tests need; `.ci/run`
//! installs it); in each, every object decodes into its Kubernetes type with no unknown field,
//! RBAC grants exactly `cluster::api::API_USE` where the controller uses it, and the image,
//! the Deployment and the Services agree with the real CLI and admin listener on the binary,
//! the command line, ports, probes, metrics scraping, user and drain time. The committed
//! single files `deploy/strait-<overlay>.yaml` must match the rendering, and the README's
//! install section must name only overlays, files and flags that exist.

use std::any::TypeId;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fmt::Debug;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use clap::{CommandFactory as _, Parser as _};
use http::{Request, StatusCode};
use http_body_util::Empty;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, EnvVar, Namespace, Node, PodSpec, Secret, Service,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role};
use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::{ClusterResourceScope, Metadata, Resource};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;
use strait_controller::admin::{Admin, Readiness};
use strait_controller::cli::{Cli, Command, ControllerArgs};
use strait_controller::cluster::api::{API_USE, Scope};

/// Strait's namespace and ServiceAccount (`strait/strait`), and the image's user.
pub(crate) const NAMESPACE: &str = "strait";
pub(crate) const SERVICE_ACCOUNT: &str = "strait";
pub(crate) const UID: i64 = 65532;

pub(crate) fn root() -> PathBuf {
    let controller = Path::new(env!("CARGO_MANIFEST_DIR"));
    controller.parent().expect("workspace root").to_path_buf()
}

pub(crate) fn read(relative: &str) -> String {
    fs::read_to_string(root().join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

mod container;
mod dockerfile;
mod kustomize;
mod manifests;
mod metrics;
mod rbac;
mod readme;
mod render;

use container::*;
use dockerfile::*;
use manifests::*;
use render::*;
