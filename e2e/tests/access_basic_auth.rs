//! Basic auth through the real proxy (docs/architecture.md, "Basic auth"): `auth-type: basic`,
//! `auth-secret` (`name` or `namespace/name`), `auth-secret-type` `auth-file` | `auth-map`,
//! `auth-realm`; htpasswd hashes in bcrypt (made by libxcrypt's `crypt(3)`), apr1 (`openssl
//! passwd -apr1`) and `{SHA}` (`htpasswd -s`), so the verifier is checked against other
//! implementations, not itself.

use serde_json::{Value, json};
use strait_controller::serve::Running;
use strait_e2e::client::get_with;
use strait_e2e::manifests::{IngressB, backend, our_class};
use strait_e2e::{Echo, Manifests, Reply, config};

const NGINX: &str = "nginx.ingress.kubernetes.io";

/// `bob:bcrypt-pw` (`$2y$`, cost 5), `ann:apr1-pw`, `sam:sha1-pw`, as `htpasswd` writes them.
const HTPASSWD: &str = "bob:$2y$05$abcdefghijklmnopqrstuufhXdHJtkiUiNQ6n8/s9Kw6bfnPI6Ytq\n\
                        ann:$apr1$e2esalt1$osVvY17Tx0OufiB3IMU3N.\n\
                        sam:{SHA}NtOU43Co1JrOvDv98Av/fsQjVIY=\n";

/// `Authorization` values (base64 of `user:password`).
const BOB: &str = "Basic Ym9iOmJjcnlwdC1wdw==";
const ANN: &str = "Basic YW5uOmFwcjEtcHc=";
const SAM: &str = "Basic c2FtOnNoYTEtcHc=";
const BOB_WRONG: &str = "Basic Ym9iOndyb25n";
const EVE: &str = "Basic ZXZlOmJjcnlwdC1wdw==";

/// An Opaque Secret, as `kubectl create secret generic <name> --from-file=auth` makes it.
fn htpasswd_secret(name: &str, data: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"namespace": "default", "name": name},
        "stringData": data,
    })
}

/// Echo `a` behind `open.test` (no annotations) and `guarded.test` (with `annotations`).
async fn scene(annotations: &[(&str, &str)], secrets: Vec<Value>) -> (Manifests, Echo) {
    let a = Echo::start("a", [127, 0, 0, 2], 0).await;
    let mut guarded =
        IngressB::new("default", "guarded").rule("guarded.test", "/", "Prefix", "a", 80);
    for (k, v) in annotations {
        guarded = guarded.annotation(&format!("{NGINX}/{k}"), v);
    }
    let open = IngressB::new("default", "open").rule("open.test", "/", "Prefix", "a", 80);
    let mut items = vec![our_class(), guarded.build(), open.build()];
    items.extend(backend("default", "a", &[a.addr]));
    items.extend(secrets);
    let m = Manifests::new();
    m.write_list("all.json", &items);
    (m, a)
}

async fn start(m: &Manifests) -> Running {
    strait_controller::serve::start(config(m.path()))
        .await
        .expect("start")
}

async fn as_user(s: &Running, host: &str, authorization: Option<&str>) -> Reply {
    let headers: Vec<(&str, &str)> = authorization
        .map(|a| ("authorization", a))
        .into_iter()
        .collect();
    get_with(s.http_addr, host, "/", &headers).await
}

fn assert_401(r: &Reply, realm: &str, what: &str) {
    assert_eq!(r.status, 401, "{what}: {}", r.text());
    let challenge = r
        .headers
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap());
    assert_eq!(
        challenge,
        Some(format!("Basic realm=\"{realm}\"").as_str()),
        "{what}"
    );
    assert!(
        r.echo_name().is_none(),
        "{what}: must not reach the backend"
    );
}

fn assert_200(r: &Reply, what: &str) {
    assert_eq!(r.status, 200, "{what}: {}", r.text());
    assert_eq!(r.echo_name().as_deref(), Some("a"), "{what}");
}

const FILE_AUTH: &[(&str, &str)] = &[
    ("auth-type", "basic"),
    ("auth-secret", "basic-auth"),
    ("auth-realm", "Authentication Required - foo"),
];

/// ingress-nginx test/e2e/annotations/auth.go "should return status code 401 when
/// authentication is configured but Authorization header is not configured", "... is
/// configured with invalid content" and "should return status code 200 when authentication is
/// configured and Authorization header is sent" (realm `test auth` there), with each htpasswd
/// format of docs/user-guide/nginx-configuration/annotations.md#authentication.
#[tokio::test]
async fn an_htpasswd_file_admits_its_users_and_no_one_else() {
    let secret = htpasswd_secret("basic-auth", json!({"auth": HTPASSWD}));
    let (m, _a) = scene(FILE_AUTH, vec![secret]).await;
    let s = start(&m).await;
    let realm = "Authentication Required - foo";
    assert_401(&as_user(&s, "guarded.test", None).await, realm, "no header");
    assert_401(
        &as_user(&s, "guarded.test", Some(BOB_WRONG)).await,
        realm,
        "wrong pw",
    );
    assert_401(
        &as_user(&s, "guarded.test", Some(EVE)).await,
        realm,
        "unknown user",
    );
    assert_401(
        &as_user(&s, "guarded.test", Some("Bearer x")).await,
        realm,
        "other scheme",
    );
    for (who, auth) in [("bcrypt", BOB), ("apr1", ANN), ("sha1", SAM)] {
        assert_200(&as_user(&s, "guarded.test", Some(auth)).await, who);
        // The second time hits the worker's cache of successful verifications.
        assert_200(&as_user(&s, "guarded.test", Some(auth)).await, who);
    }
    // nginx.tmpl sets `proxy_set_header Authorization ""` on a basic-auth location: the
    // password never reaches the upstream. An open route passes the header through.
    let r = as_user(&s, "guarded.test", Some(BOB)).await;
    assert_eq!(
        r.echoed_header("authorization"),
        None,
        "credentials kept from upstream"
    );
    let r = as_user(&s, "open.test", Some(BOB)).await;
    assert_eq!(r.echoed_header("authorization").as_deref(), Some(BOB));
    assert_200(&as_user(&s, "open.test", None).await, "open route");
    s.shutdown().await.unwrap();
}

/// ingress-nginx test/e2e/annotations/auth.go "should return status code 200 when
/// authentication is configured with a map and Authorization header is sent"
/// (`auth-secret-type: auth-map`), and a `namespace/name` reference in the Ingress's own
/// namespace (main.go splits it with `SplitMetaNamespaceKey`). No `auth-realm`: empty realm.
#[tokio::test]
async fn an_auth_map_takes_users_from_the_secret_keys() {
    let secret = htpasswd_secret(
        "users",
        json!({"sam": "{SHA}NtOU43Co1JrOvDv98Av/fsQjVIY=", "ann": "$apr1$e2esalt1$osVvY17Tx0OufiB3IMU3N."}),
    );
    let keys = [
        ("auth-type", "basic"),
        ("auth-secret", "default/users"),
        ("auth-secret-type", "auth-map"),
    ];
    let (m, _a) = scene(&keys, vec![secret]).await;
    let s = start(&m).await;
    assert_401(&as_user(&s, "guarded.test", None).await, "", "no header");
    assert_401(
        &as_user(&s, "guarded.test", Some(BOB)).await,
        "",
        "not in the map",
    );
    assert_200(&as_user(&s, "guarded.test", Some(SAM)).await, "sam");
    assert_200(&as_user(&s, "guarded.test", Some(ANN)).await, "ann");
    s.shutdown().await.unwrap();
}

/// What is wrong, the annotations, the Secrets.
type Case = (&'static str, Vec<(&'static str, &'static str)>, Vec<Value>);

/// ingress-nginx main.go refuses the location ("unexpected error reading secret", "does not
/// contain a key with value auth", "cross namespace usage of secrets is not allowed"); Strait
/// answers 503 with the reason on every route of the Ingress (fail closed), never serves it
/// open, and the other Ingress keeps serving.
#[tokio::test]
async fn a_missing_or_unusable_secret_refuses_the_routes() {
    let cases: [Case; 4] = [
        ("missing Secret", FILE_AUTH.to_vec(), vec![]),
        (
            "no auth key",
            FILE_AUTH.to_vec(),
            vec![htpasswd_secret("basic-auth", json!({"users": HTPASSWD}))],
        ),
        (
            "DES crypt entry",
            FILE_AUTH.to_vec(),
            vec![htpasswd_secret(
                "basic-auth",
                json!({"auth": "bob:abJnggxhB/yWI\n"}),
            )],
        ),
        (
            "other namespace",
            vec![
                ("auth-type", "basic"),
                ("auth-secret", "kube-system/basic-auth"),
            ],
            vec![],
        ),
    ];
    for (what, keys, secrets) in cases {
        let (m, _a) = scene(&keys, secrets).await;
        let s = start(&m).await;
        let r = as_user(&s, "guarded.test", Some(BOB)).await;
        assert_eq!(r.status, 503, "{what}: {}", r.text());
        assert!(
            r.text().starts_with("route refused"),
            "{what}: {}",
            r.text()
        );
        assert_200(&as_user(&s, "open.test", None).await, what);
        s.shutdown().await.unwrap();
    }
}

/// `auth-type: digest` is accepted by ingress-nginx (main.go's `basic|digest`) but not
/// enforced by Strait: refused, not served open.
#[tokio::test]
async fn digest_auth_is_refused_not_served_open() {
    let secret = htpasswd_secret("basic-auth", json!({"auth": HTPASSWD}));
    let keys = [("auth-type", "digest"), ("auth-secret", "basic-auth")];
    let (m, _a) = scene(&keys, vec![secret]).await;
    let s = start(&m).await;
    let r = as_user(&s, "guarded.test", Some(BOB)).await;
    assert_eq!(r.status, 503, "{}", r.text());
    s.shutdown().await.unwrap();
}
