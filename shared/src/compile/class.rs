//! Which Ingresses are ours (docs/architecture.md, "Class").
//!
//! - `spec.ingressClassName` set: ours when it names an IngressClass whose `spec.controller`
//!   is any of our controller names, or — when no IngressClass of that name exists at all —
//!   when it equals any of our `--ingress-class` names (standalone folders often omit the
//!   IngressClass).
//! - field empty, legacy `kubernetes.io/ingress.class` annotation set: ours when it equals any
//!   of our `--ingress-class` names or names one of our IngressClasses.
//! - no class at all: ours when one of our IngressClasses is marked
//!   `ingressclass.kubernetes.io/is-default-class: "true"`, or with
//!   `--watch-ingress-without-class`.
//!
//! An Ingress that is not ours is ignored silently: it belongs to another controller.
//!
//! Several class and controller names let Strait serve another controller's Ingresses side
//! by side (`--ingress-class strait,nginx --controller-name
//! strait.dev/ingress-controller,k8s.io/ingress-nginx`), as ingress-nginx users migrate (README, "Migrating from ingress-nginx").

use std::collections::BTreeSet;

use k8s_openapi::api::networking::v1::{Ingress, IngressClass};

use crate::config::CompileConfig;
use crate::index::Index;

pub(super) const LEGACY_CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";
pub(super) const DEFAULT_CLASS_ANNOTATION: &str = "ingressclass.kubernetes.io/is-default-class";

/// The class facts needed to decide each Ingress, gathered once per compilation.
pub(super) struct ClassFilter<'a> {
    config: &'a CompileConfig,
    /// Names of every IngressClass object.
    existing: BTreeSet<&'a str>,
    /// Names of IngressClasses whose controller is ours.
    ours: BTreeSet<&'a str>,
    /// Whether one of ours is the cluster's default class.
    default_is_ours: bool,
}

impl<'a> ClassFilter<'a> {
    pub(super) fn new(index: &'a Index, config: &'a CompileConfig) -> Self {
        let mut filter = Self {
            config,
            existing: BTreeSet::new(),
            ours: BTreeSet::new(),
            default_is_ours: false,
        };
        for (key, class) in index.ingress_classes() {
            filter.existing.insert(key.name.as_str());
            if is_our_controller(class, config) {
                filter.ours.insert(key.name.as_str());
                filter.default_is_ours |= is_default_class(class);
            }
        }
        filter
    }

    pub(super) fn is_ours(&self, ingress: &Ingress) -> bool {
        match class_of(ingress) {
            Some((name, ClassSource::Field)) => self.names_us(name),
            Some((name, ClassSource::Legacy)) => {
                self.is_our_class_name(name) || self.ours.contains(name)
            }
            None => self.default_is_ours || self.config.watch_ingress_without_class,
        }
    }

    /// Whether `spec.ingressClassName: name` selects us.
    fn names_us(&self, name: &str) -> bool {
        if self.existing.contains(name) {
            self.ours.contains(name)
        } else {
            self.is_our_class_name(name)
        }
    }

    /// Whether `name` is one of our `--ingress-class` names.
    fn is_our_class_name(&self, name: &str) -> bool {
        self.config.ingress_classes.iter().any(|ours| ours == name)
    }
}

/// Where an Ingress names its class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ClassSource {
    /// `spec.ingressClassName`.
    Field,
    /// The legacy `kubernetes.io/ingress.class` annotation (read only when the field is empty).
    Legacy,
}

/// The class an Ingress names, and where; `None` when it names none.
pub(super) fn class_of(ingress: &Ingress) -> Option<(&str, ClassSource)> {
    let field = ingress
        .spec
        .as_ref()
        .and_then(|s| s.ingress_class_name.as_deref())
        .filter(|c| !c.is_empty());
    if let Some(name) = field {
        return Some((name, ClassSource::Field));
    }
    ingress
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(LEGACY_CLASS_ANNOTATION))
        .map(String::as_str)
        .filter(|c| !c.is_empty())
        .map(|name| (name, ClassSource::Legacy))
}

fn is_our_controller(class: &IngressClass, config: &CompileConfig) -> bool {
    class
        .spec
        .as_ref()
        .and_then(|s| s.controller.as_deref())
        .is_some_and(|c| config.controller_names.iter().any(|ours| ours == c))
}

fn is_default_class(class: &IngressClass) -> bool {
    class
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(DEFAULT_CLASS_ANNOTATION))
        .is_some_and(|v| v == "true")
}
