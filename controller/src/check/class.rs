//! Why an Ingress is ours or not, in words: the compile's class rules (DESIGN.md, "Class";
//! `strait_shared`'s `compile/class.rs`) said from the Ingress's spec and the IngressClasses.

use k8s_openapi::api::networking::v1::Ingress;
use strait_shared::{CompileConfig, Index, ObjectKey};

/// The legacy class annotation.
const LEGACY_CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";
/// Marks an IngressClass as the cluster default.
const DEFAULT_CLASS_ANNOTATION: &str = "ingressclass.kubernetes.io/is-default-class";

/// How an Ingress names its class, and why that makes it ours or not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassInfo {
    pub source: ClassSource,
    /// The class named, if any.
    pub name: Option<String>,
    /// Why it is (or is not) ours, as a sentence fragment.
    pub reason: String,
}

/// Where an Ingress's class comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClassSource {
    Field,
    Annotation,
    None,
}

impl ClassSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Field => "ingressClassName",
            Self::Annotation => "annotation",
            Self::None => "none",
        }
    }
}

/// Why `ingress` is ours or not, from its spec and the IngressClasses in `index`: the same
/// rules as the compile's class filter (DESIGN.md, "Class"), said in words.
pub fn explain_class(
    ingress: &Ingress,
    index: &Index,
    config: &CompileConfig,
    ours: bool,
) -> ClassInfo {
    let field = ingress
        .spec
        .as_ref()
        .and_then(|s| s.ingress_class_name.as_deref())
        .filter(|c| !c.is_empty());
    let legacy = ingress
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(LEGACY_CLASS_ANNOTATION))
        .map(String::as_str)
        .filter(|c| !c.is_empty());
    let classes = config.ingress_classes.join(",");
    let controllers = config.controller_names.join(",");
    let is_class_name = |name: &str| config.ingress_classes.iter().any(|c| c == name);
    let (source, name, reason) = match (field, legacy) {
        (Some(name), _) => {
            let reason = match class_controller(index, name) {
                Some(controller) if ours => format!(
                    "ingressClassName {name}: IngressClass {name} has controller {controller}, one of --controller-name"
                ),
                Some(controller) => format!(
                    "ingressClassName {name}: IngressClass {name} has controller {controller}, not one of --controller-name {controllers}"
                ),
                None if is_class_name(name) => format!(
                    "ingressClassName {name}: no IngressClass of that name, and {name} is one of --ingress-class"
                ),
                None => format!(
                    "ingressClassName {name}: no IngressClass of that name, and {name} is not one of --ingress-class {classes}"
                ),
            };
            (ClassSource::Field, Some(name), reason)
        }
        (None, Some(name)) => {
            let reason = if is_class_name(name) {
                format!("annotation {LEGACY_CLASS_ANNOTATION}: {name}, one of --ingress-class")
            } else if ours {
                format!(
                    "annotation {LEGACY_CLASS_ANNOTATION}: {name}, an IngressClass with one of our controllers"
                )
            } else {
                format!(
                    "annotation {LEGACY_CLASS_ANNOTATION}: {name}, not one of --ingress-class {classes}"
                )
            };
            (ClassSource::Annotation, Some(name), reason)
        }
        (None, None) => {
            let reason = match (ours, default_class(index, config)) {
                (true, Some(default)) => {
                    format!("no class: the default IngressClass {default} is ours")
                }
                (true, None) => "no class: taken with --watch-ingress-without-class".to_owned(),
                (false, _) => "no class, no default IngressClass of ours, and no --watch-ingress-without-class".to_owned(),
            };
            (ClassSource::None, None, reason)
        }
    };
    ClassInfo {
        source,
        name: name.map(str::to_owned),
        reason,
    }
}

/// The `spec.controller` of the IngressClass `name`, when that IngressClass exists (an empty
/// string when it names none).
fn class_controller<'a>(index: &'a Index, name: &str) -> Option<&'a str> {
    let class = index.ingress_classes().get(&ObjectKey::cluster(name))?;
    Some(
        class
            .spec
            .as_ref()
            .and_then(|s| s.controller.as_deref())
            .unwrap_or_default(),
    )
}

/// The name of an IngressClass of ours marked as the cluster default.
fn default_class<'a>(index: &'a Index, config: &CompileConfig) -> Option<&'a str> {
    index.ingress_classes().iter().find_map(|(key, class)| {
        let is_default = class
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(DEFAULT_CLASS_ANNOTATION))
            .is_some_and(|v| v == "true");
        let controller = class.spec.as_ref().and_then(|s| s.controller.as_deref());
        let ours = controller.is_some_and(|c| config.controller_names.iter().any(|n| n == c));
        (is_default && ours).then_some(key.name.as_str())
    })
}
