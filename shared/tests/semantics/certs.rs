//! Test certificates generated with rcgen (never committed) and TLS Secrets holding them.

use k8s_openapi::ByteString;
use rcgen::{CertificateParams, KeyPair};
use serde_json::{Value, json};
use strait_shared::RouteTable;

use crate::support::{Ing, path};

/// A generated certificate: PEM chain and key, and the leaf's DER to compare with a table.
pub struct TestCert {
    pub chain: String,
    pub key: String,
    pub der: Vec<u8>,
}

/// A self-signed ECDSA P-256 certificate for `names`, valid for a very long time.
pub fn cert(names: &[&str]) -> TestCert {
    generate(params(names))
}

/// A certificate for `names` that expired on 2020-01-01.
pub fn expired_cert(names: &[&str]) -> TestCert {
    let mut p = params(names);
    p.not_before = rcgen::date_time_ymd(2019, 1, 1);
    p.not_after = rcgen::date_time_ymd(2020, 1, 1);
    generate(p)
}

fn params(names: &[&str]) -> CertificateParams {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    CertificateParams::new(names).expect("rcgen accepts the names")
}

fn generate(params: CertificateParams) -> TestCert {
    let key = KeyPair::generate().expect("key generation");
    let cert = params.self_signed(&key).expect("self-signing");
    TestCert {
        chain: cert.pem(),
        key: key.serialize_pem(),
        der: cert.der().to_vec(),
    }
}

/// A `kubernetes.io/tls` Secret holding `cert`, base64 in `data` as the API server stores it.
pub fn tls_secret(namespace: &str, name: &str, cert: &TestCert) -> Value {
    tls_secret_raw(namespace, name, &cert.chain, &cert.key)
}

/// A `kubernetes.io/tls` Secret with arbitrary `tls.crt` and `tls.key` text.
pub fn tls_secret_raw(namespace: &str, name: &str, chain: &str, key: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"namespace": namespace, "name": name},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": base64(chain), "tls.key": base64(key)},
    })
}

fn base64(text: &str) -> Value {
    serde_json::to_value(ByteString(text.as_bytes().to_vec())).expect("ByteString serialises")
}

/// The leaf (DER) served for a ClientHello with `sni`, if any certificate is.
pub fn served_cert(table: &RouteTable, sni: Option<&str>) -> Option<Vec<u8>> {
    table.tls().resolve(sni).map(|c| c.leaf().to_vec())
}

/// Whether plain HTTP to `host` + `path` is redirected; panics when nothing matches.
pub fn redirects(table: &RouteTable, host: &str, path: &str) -> bool {
    table
        .lookup(host, path)
        .unwrap_or_else(|| panic!("{host}{path} matches a route"))
        .route
        .options
        .https_redirect
}

/// Ingress `default/{name}`: `Prefix /` to `web` on each host, one `spec.tls` entry for them.
pub fn tls_ingress(name: &str, hosts: &[&str], secret: Option<&str>) -> Ing {
    let mut ing = Ing::new("default", name);
    for host in hosts {
        ing = ing.rule(host, vec![path("Prefix", "/", "web", 80)]);
    }
    ing.tls(hosts, secret)
}
