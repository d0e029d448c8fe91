//! Reading `strait check`'s input from a live cluster, read-only: one list of each kind the
//! controller watches (the same list calls its watchers make, so the same RBAC; ConfigMaps
//! for `auth-proxy-set-headers`), and one get of ingress-nginx's ConfigMap.

use std::fmt::Debug;

use k8s_openapi::api::core::v1::{ConfigMap, Node, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use kube::api::ListParams;
use kube::core::DeserializeGuard;
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use strait_shared::objects::key_of;
use strait_shared::{Kind, Object, ObjectKey};

use super::input::Loaded;
use crate::cluster::api::{ApiUse, Scope};
use crate::cluster::sources::{UNWATCHED_CONFIG_MAP_LABELS, WATCHED_CONFIG_MAPS, WATCHED_SECRETS};

/// Objects per list page.
const PAGE: u32 = 500;

/// Every call `strait check --cluster` makes, as RBAC names it: the controller's list calls
/// (a test checks they are in [`crate::cluster::api::API_USE`]) and a get of one ConfigMap
/// (ingress-nginx's).
pub const API_USE: &[ApiUse] = &[
    read("networking.k8s.io", "ingressclasses"),
    read("networking.k8s.io", "ingresses"),
    read("", "services"),
    read("discovery.k8s.io", "endpointslices"),
    read("", "secrets"),
    read("", "nodes"),
    ApiUse {
        group: "",
        resource: "configmaps",
        verbs: &["list", "get"],
        scope: Scope::Cluster,
    },
];

const fn read(group: &'static str, resource: &'static str) -> ApiUse {
    ApiUse {
        group,
        resource,
        verbs: &["list"],
        scope: Scope::Cluster,
    }
}

/// Lists every kind once (all namespaces) and gets the ConfigMap `configmap`. Secrets (the
/// types the controller reads), ConfigMaps (selected as the controller selects them), Nodes
/// and the ConfigMap are skipped with a note when forbidden; any other failure fails the
/// check.
pub async fn read_cluster(client: Client, configmap: &ObjectKey) -> anyhow::Result<Loaded> {
    let mut reader = Reader {
        client,
        loaded: Loaded::default(),
    };
    let all = ListParams::default();
    reader
        .list::<IngressClass>(Kind::IngressClass, &all, false)
        .await?;
    reader.list::<Ingress>(Kind::Ingress, &all, false).await?;
    reader.list::<Service>(Kind::Service, &all, false).await?;
    reader
        .list::<EndpointSlice>(Kind::EndpointSlice, &all, false)
        .await?;
    let tls = ListParams::default().fields(WATCHED_SECRETS);
    reader.list::<Secret>(Kind::Secret, &tls, true).await?;
    let header_maps = ListParams::default()
        .fields(WATCHED_CONFIG_MAPS)
        .labels(UNWATCHED_CONFIG_MAP_LABELS);
    reader
        .list::<ConfigMap>(Kind::ConfigMap, &header_maps, true)
        .await?;
    reader.list::<Node>(Kind::Node, &all, true).await?;
    reader.configmap(configmap).await?;
    Ok(reader.loaded)
}

struct Reader {
    client: Client,
    loaded: Loaded,
}

impl Reader {
    /// Lists `K` page by page into the index; `optional`: a 403 becomes a note.
    async fn list<K>(
        &mut self,
        kind: Kind,
        params: &ListParams,
        optional: bool,
    ) -> anyhow::Result<()>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
        Object: From<K>,
    {
        let api = Api::<DeserializeGuard<K>>::all(self.client.clone());
        let mut params = params.clone().limit(PAGE);
        loop {
            let page = match api.list(&params).await {
                Ok(page) => page,
                Err(kube::Error::Api(status)) if optional && status.is_forbidden() => {
                    self.loaded.notes.push(forbidden(kind));
                    return Ok(());
                }
                Err(err) => {
                    return Err(
                        anyhow::Error::new(err).context(format!("cannot list {}", plural(kind)))
                    );
                }
            };
            for guard in page.items {
                self.add(kind, guard);
            }
            match page.metadata.continue_ {
                Some(token) if !token.is_empty() => params = params.continue_token(&token),
                _ => return Ok(()),
            }
        }
    }

    /// Adds an object, or a note for one that does not decode (the rest still count).
    fn add<K>(&mut self, kind: Kind, guard: DeserializeGuard<K>)
    where
        K: Resource<DynamicType = ()>,
        Object: From<K>,
    {
        match guard.0 {
            Ok(object) => {
                self.loaded.index.apply(Object::from(object));
            }
            Err(invalid) => {
                let key = key_of(kind, &invalid.metadata);
                self.loaded.notes.push(format!(
                    "{kind} {key} does not decode and was left out: {}",
                    invalid.error
                ));
            }
        }
    }

    async fn configmap(&mut self, key: &ObjectKey) -> anyhow::Result<()> {
        let api = Api::<ConfigMap>::namespaced(self.client.clone(), &key.namespace);
        match api.get_opt(&key.name).await {
            Ok(Some(configmap)) => {
                self.loaded.configmap = Some(configmap.data.unwrap_or_default().into_iter().collect());
            }
            Ok(None) => self.loaded.notes.push(format!(
                "ConfigMap {key} is not in the cluster: no ingress-nginx options checked (--nginx-configmap names another)"
            )),
            Err(kube::Error::Api(status)) if status.is_forbidden() => {
                self.loaded.notes.push(format!(
                    "ConfigMap {key} could not be read (forbidden): no ingress-nginx options checked"
                ));
            }
            Err(err) => {
                return Err(anyhow::Error::new(err).context(format!("cannot get ConfigMap {key}")));
            }
        }
        Ok(())
    }
}

fn forbidden(kind: Kind) -> String {
    match kind {
        Kind::Secret => "Secrets could not be listed (forbidden): every TLS Secret counts as missing (TlsSecretMissing below may be wrong)".to_owned(),
        Kind::ConfigMap => "ConfigMaps could not be listed (forbidden): every auth-proxy-set-headers ConfigMap counts as missing (ConfigMapMissing below may be wrong)".to_owned(),
        Kind::Node => "Nodes could not be listed (forbidden): nodeport backends have no endpoints".to_owned(),
        other => format!("{} could not be listed (forbidden)", plural(other)),
    }
}

fn plural(kind: Kind) -> String {
    match kind {
        Kind::IngressClass => "IngressClasses".to_owned(),
        Kind::Ingress => "Ingresses".to_owned(),
        other => format!("{other}s"),
    }
}
