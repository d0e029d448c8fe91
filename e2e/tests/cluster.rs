//! Opt-in end to end against a real cluster: set `STRAIT_E2E_KUBECONFIG` to a kubeconfig whose
//! user may create, read and delete Services, EndpointSlices and Ingresses in `default` (a
//! kind or k3d cluster will do). Without it the test returns at once and says so; CI runs
//! the API code against a mock API server instead (`controller/src/cluster/**/tests.rs`).
//!
//! ```sh
//! STRAIT_E2E_KUBECONFIG=~/.kube/config cargo test -p strait-e2e --test cluster -- --nocapture
//! ```
//!
//! Strait runs in this process against that cluster. The EndpointSlice points at an echo
//! backend on 127.0.0.2, which only this process can reach: that is enough, since the proxy
//! runs here too.

use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{DeleteParams, PostParams};
use kube::{Api, Client};
use serde::de::DeserializeOwned;
use strait_controller::cluster::ClusterConfig;
use strait_controller::serve::Source;
use strait_e2e::manifests::{IngressB, backend};
use strait_e2e::{Echo, get};

const NAMESPACE: &str = "default";
const NAME: &str = "strait-e2e";
const HOST: &str = "strait-e2e.example.test";
const ADDRESS: &str = "203.0.113.10";
/// A real API server and watch take longer than the in-process tests' deadline.
const CLUSTER_DEADLINE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_follows_its_objects_in_a_real_cluster() {
    let Some(kubeconfig) = std::env::var_os("STRAIT_E2E_KUBECONFIG") else {
        eprintln!("skipped: set STRAIT_E2E_KUBECONFIG to run against a real cluster");
        return;
    };
    let cluster = ClusterConfig {
        kubeconfig: Some(PathBuf::from(kubeconfig)),
        namespaces: vec![NAMESPACE.to_owned()],
        publish_addresses: vec![ADDRESS.to_owned()],
        leader_election: false,
        election_id: "strait-e2e-leader".to_owned(),
        ..ClusterConfig::default()
    };
    let client = strait_controller::cluster::connect(&cluster)
        .await
        .expect("the kubeconfig works");
    let unused = tempfile::tempdir().expect("tempdir");
    let config = strait_controller::serve::ServeConfig {
        source: Source::Cluster(Box::new(cluster)),
        ..strait_e2e::config(unused.path())
    };
    let running = strait_controller::serve::start(config)
        .await
        .expect("starts");
    let echo = Echo::start("a", [127, 0, 0, 2], 0).await;

    let mut objects = backend(NAMESPACE, NAME, &[echo.addr]);
    // The API server assigns the ClusterIP (the folder tests name one).
    objects[0]["spec"]
        .as_object_mut()
        .expect("service spec")
        .remove("clusterIP");
    let slice_name = objects[1]["metadata"]["name"]
        .as_str()
        .expect("slice name")
        .to_owned();
    cleanup(&client, &slice_name).await;
    create::<Service>(&client, &objects[0]).await;
    create::<EndpointSlice>(&client, &objects[1]).await;
    let ingress = IngressB::new(NAMESPACE, NAME)
        .rule(HOST, "/", "Prefix", NAME, 80)
        .build();
    create::<Ingress>(&client, &ingress).await;

    let http = running.http_addr;
    until("the route is served", || async {
        (get(http, HOST, "/").await.status == 200).then_some(())
    })
    .await;
    let ingresses: Api<Ingress> = Api::namespaced(client.clone(), NAMESPACE);
    until("the status is written", || async {
        let ingress = ingresses.get(NAME).await.ok()?;
        let lb = ingress.status?.load_balancer?.ingress?;
        (lb.first()?.ip.as_deref() == Some(ADDRESS)).then_some(())
    })
    .await;

    cleanup(&client, &slice_name).await;
    until("the route is gone", || async {
        (get(http, HOST, "/").await.status == 404).then_some(())
    })
    .await;
    running.shutdown().await.expect("clean shutdown");
}

async fn create<K>(client: &Client, value: &serde_json::Value)
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
{
    let object: K = serde_json::from_value(value.clone()).expect("a valid manifest");
    Api::<K>::namespaced(client.clone(), NAMESPACE)
        .create(&PostParams::default(), &object)
        .await
        .expect("created");
}

/// Deletes the test's objects, ignoring those that are not there.
async fn cleanup(client: &Client, slice: &str) {
    let params = DeleteParams::default();
    let ns = NAMESPACE;
    let _ = Api::<Ingress>::namespaced(client.clone(), ns)
        .delete(NAME, &params)
        .await;
    let _ = Api::<EndpointSlice>::namespaced(client.clone(), ns)
        .delete(slice, &params)
        .await;
    let _ = Api::<Service>::namespaced(client.clone(), ns)
        .delete(NAME, &params)
        .await;
}

async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<()>>,
{
    let deadline = tokio::time::Instant::now() + CLUSTER_DEADLINE;
    while check().await.is_none() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
