//! `deploy/` and the `Dockerfile` against the binary they run: every manifest decodes into its
//! Kubernetes type with no unknown field, RBAC grants exactly `cluster::api::API_USE`, and the
//! image, the Deployment and the Service agree with the real CLI and admin listener on the
//! binary, the command line, ports, probes, user and drain time.

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
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::core::v1::{Container, EnvVar, Namespace, PodSpec, Service};
use k8s_openapi::api::networking::v1::IngressClass;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role};
use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::{Metadata, Resource};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;
use strait_controller::admin::{Admin, Readiness};
use strait_controller::cli::{Cli, Command, ControllerArgs};
use strait_controller::cluster::api::{API_USE, Scope};

/// Strait's namespace and ServiceAccount (`strait/strait`), and the image's user.
const NAMESPACE: &str = "strait";
const SERVICE_ACCOUNT: &str = "strait";
const UID: i64 = 65532;

fn root() -> PathBuf {
    let controller = Path::new(env!("CARGO_MANIFEST_DIR"));
    controller.parent().expect("workspace root").to_path_buf()
}

fn read(relative: &str) -> String {
    fs::read_to_string(root().join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

// ---- deploy/: every document, decoded by apiVersion/kind ----

/// An object and the file it came from.
struct Found<T> {
    file: String,
    object: T,
}

#[derive(Default)]
struct Deploy {
    namespaces: Vec<Found<Namespace>>,
    service_accounts: Vec<Found<ServiceAccount>>,
    cluster_roles: Vec<Found<ClusterRole>>,
    cluster_role_bindings: Vec<Found<ClusterRoleBinding>>,
    roles: Vec<Found<Role>>,
    role_bindings: Vec<Found<RoleBinding>>,
    ingress_classes: Vec<Found<IngressClass>>,
    deployments: Vec<Found<Deployment>>,
    services: Vec<Found<Service>>,
    pdbs: Vec<Found<PodDisruptionBudget>>,
}

impl Deploy {
    /// Every `*.yaml` under `deploy/` except `deploy/grafana/`.
    fn load() -> Self {
        let mut files = Vec::new();
        yaml_files(&root().join("deploy"), &mut files);
        assert!(!files.is_empty(), "deploy/ holds no *.yaml file");
        let mut deploy = Self::default();
        for path in files {
            let file = path.strip_prefix(root()).expect("under root");
            let file = file.display().to_string();
            let options = serde_saphyr::options! { strict_booleans: true };
            let documents: Vec<Value> =
                serde_saphyr::from_multiple_with_options(&read(&file), options)
                    .unwrap_or_else(|e| panic!("{file}: not YAML: {e}"));
            documents.iter().for_each(|doc| deploy.add(&file, doc));
        }
        deploy
    }

    fn add(&mut self, file: &str, doc: &Value) {
        let known = take(&mut self.namespaces, file, doc)
            || take(&mut self.service_accounts, file, doc)
            || take(&mut self.cluster_roles, file, doc)
            || take(&mut self.cluster_role_bindings, file, doc)
            || take(&mut self.roles, file, doc)
            || take(&mut self.role_bindings, file, doc)
            || take(&mut self.ingress_classes, file, doc)
            || take(&mut self.deployments, file, doc)
            || take(&mut self.services, file, doc)
            || take(&mut self.pdbs, file, doc);
        let (version, kind) = (&doc["apiVersion"], &doc["kind"]);
        assert!(known, "{file}: unexpected object {version} {kind}");
    }

    /// The one Deployment, its pod spec and its `strait` container.
    fn deployment(&self) -> (&Found<Deployment>, &PodSpec, &Container) {
        let [found] = &self.deployments[..] else {
            let count = self.deployments.len();
            panic!("deploy/: {count} Deployments, expected 1");
        };
        let file = &found.file;
        let spec = found.object.spec.template.spec.as_ref();
        let spec = spec.unwrap_or_else(|| panic!("{file}: no pod spec"));
        let container = spec.containers.iter().find(|c| c.name == "strait");
        let container = container.unwrap_or_else(|| panic!("{file}: no container strait"));
        (found, spec, container)
    }
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for path in entries.map(|entry| entry.expect("directory entry").path()) {
        if path.is_dir() && !path.ends_with("grafana") {
            yaml_files(&path, out);
        } else if matches!(
            path.extension().and_then(OsStr::to_str),
            Some("yaml" | "yml")
        ) {
            out.push(path);
        }
    }
    out.sort();
}

/// Decodes `doc` into `T` when its apiVersion/kind are `T`'s. Encoding the object again must
/// give the document back: k8s-openapi skips unknown fields, so a misspelt one would vanish.
fn take<T>(into: &mut Vec<Found<T>>, file: &str, doc: &Value) -> bool
where
    T: Resource + DeserializeOwned + Serialize,
{
    if doc["apiVersion"] != T::API_VERSION || doc["kind"] != T::KIND {
        return false;
    }
    let what = format!("{file}: {} {}", T::KIND, doc["metadata"]["name"]);
    let object = T::deserialize(doc).unwrap_or_else(|e| panic!("{what}: {e}"));
    let back = serde_json::to_value(&object).expect("k8s-openapi objects serialize");
    if let Some(path) = lost(doc, &back, String::new()) {
        panic!("{what}: `{path}` is not a field Kubernetes knows, or its value is invalid");
    }
    let file = file.to_owned();
    into.push(Found { file, object });
    true
}

/// The first path where `doc` holds something that `back` does not.
fn lost(doc: &Value, back: &Value, path: String) -> Option<String> {
    match (doc, back) {
        (Value::Object(a), Value::Object(b)) => a.iter().find_map(|(key, value)| {
            let here = format!("{path}.{key}");
            let Some(other) = b.get(key) else {
                return Some(here);
            };
            lost(value, other, here)
        }),
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            let mut pairs = a.iter().zip(b).enumerate();
            pairs.find_map(|(i, (x, y))| lost(x, y, format!("{path}[{i}]")))
        }
        _ => (doc != back).then_some(path),
    }
}

/// The object named `namespace/name` (`""` for cluster-scoped objects).
fn find<'a, T>(items: &'a [Found<T>], namespace: &str, name: &str) -> Option<&'a Found<T>>
where
    T: Metadata<Ty = ObjectMeta>,
{
    let wanted = (namespace, name);
    items.iter().find(|i| key(i.object.metadata()) == wanted)
}

fn key(meta: &ObjectMeta) -> (&str, &str) {
    let namespace = meta.namespace.as_deref().unwrap_or_default();
    (namespace, meta.name.as_deref().unwrap_or_default())
}

/// Fails unless `ok`, naming the file and what was wrong.
#[track_caller]
fn check(file: &str, ok: bool, what: &str) {
    assert!(ok, "{file}: {what}");
}

/// Fails unless `found == expected`, naming the file and what was compared.
#[track_caller]
fn same<T: PartialEq + Debug>(file: &str, what: &str, found: T, expected: T) {
    let message = format!("{file}: {what}: {found:?}, expected {expected:?}");
    assert!(found == expected, "{message}");
}

#[test]
fn every_manifest_decodes_into_its_kubernetes_type() {
    let deploy = Deploy::load();
    let namespace = find(&deploy.namespaces, "", NAMESPACE);
    check("deploy/", namespace.is_some(), "no Namespace strait");
    let account = find(&deploy.service_accounts, NAMESPACE, SERVICE_ACCOUNT);
    check("deploy/", account.is_some(), "no ServiceAccount strait");
    let (found, spec, _) = deploy.deployment();
    let file = &found.file;
    same(file, "namespace", key(&found.object.metadata).0, NAMESPACE);
    let account = spec.service_account_name.as_deref();
    same(file, "serviceAccountName", account, Some(SERVICE_ACCOUNT));
}

// ---- RBAC ----

/// (API group, resource, verb).
type Grant = (String, String, String);

fn grants(file: &str, rules: Option<&Vec<PolicyRule>>) -> BTreeSet<Grant> {
    let mut out = BTreeSet::new();
    for rule in rules.into_iter().flatten() {
        let urls = rule.non_resource_urls.is_some();
        check(file, !urls, "nonResourceURLs are not used");
        for group in rule.api_groups.iter().flatten() {
            for resource in rule.resources.iter().flatten() {
                for verb in &rule.verbs {
                    let wild = [group, resource, verb].iter().any(|s| s.contains('*'));
                    assert!(!wild, "{file}: wildcard in {group:?} {resource} {verb}");
                    out.insert((group.clone(), resource.clone(), verb.clone()));
                }
            }
        }
    }
    out
}

/// What `API_USE` asks for in `scope`.
fn used(scope: Scope) -> BTreeSet<Grant> {
    let mut out = BTreeSet::new();
    for api in API_USE.iter().filter(|api| api.scope == scope) {
        for verb in api.verbs {
            out.insert((api.group.into(), api.resource.into(), (*verb).into()));
        }
    }
    out
}

fn binds_us(subjects: Option<&Vec<Subject>>) -> bool {
    subjects.into_iter().flatten().any(|s| {
        let namespace = s.namespace.as_deref();
        s.kind == "ServiceAccount" && s.name == SERVICE_ACCOUNT && namespace == Some(NAMESPACE)
    })
}

/// The grants of the role a binding in `namespace` refers to.
fn role_grants(deploy: &Deploy, file: &str, namespace: &str, role: &RoleRef) -> BTreeSet<Grant> {
    let name = role.name.as_str();
    let rules = match role.kind.as_str() {
        "ClusterRole" => find(&deploy.cluster_roles, "", name).map(|r| (&r.file, &r.object.rules)),
        "Role" => find(&deploy.roles, namespace, name).map(|r| (&r.file, &r.object.rules)),
        _ => None,
    };
    let (file, rules) = rules.unwrap_or_else(|| panic!("{file}: no {} {name}", role.kind));
    grants(file, rules.as_ref())
}

/// What strait/strait may do cluster-wide, and in its own namespace.
fn bound_grants(deploy: &Deploy) -> (BTreeSet<Grant>, BTreeSet<Grant>) {
    let mut cluster = BTreeSet::new();
    for Found { file, object } in &deploy.cluster_role_bindings {
        if binds_us(object.subjects.as_ref()) {
            let kind = object.role_ref.kind.as_str();
            same(file, "roleRef.kind", kind, "ClusterRole");
            cluster.extend(role_grants(deploy, file, "", &object.role_ref));
        }
    }
    let mut own = BTreeSet::new();
    for Found { file, object } in &deploy.role_bindings {
        let namespace = key(&object.metadata).0;
        same(file, "RoleBinding namespace", namespace, NAMESPACE);
        if binds_us(object.subjects.as_ref()) {
            own.extend(role_grants(deploy, file, namespace, &object.role_ref));
        }
    }
    (cluster, own)
}

#[test]
fn rbac_grants_exactly_the_api_calls_the_controller_makes() {
    let deploy = Deploy::load();
    let (cluster, own) = bound_grants(&deploy);
    let scopes = [(Scope::Cluster, cluster), (Scope::OwnNamespace, own)];
    for (scope, bound) in &scopes {
        if let Some((group, resource, verb)) = used(*scope).difference(bound).next() {
            panic!(
                "deploy/: nothing bound to ServiceAccount {NAMESPACE}/{SERVICE_ACCOUNT} grants \
                 `{verb}` on {group:?} {resource} ({scope:?}), which API_USE lists"
            );
        }
    }
    let extra = |file, rules, scope| grants(file, rules).difference(&used(scope)).next().cloned();
    for Found { file, object } in &deploy.cluster_roles {
        let extra = extra(file, object.rules.as_ref(), Scope::Cluster);
        same(file, "a grant API_USE does not list", extra, None);
    }
    for Found { file, object } in &deploy.roles {
        same(file, "Role namespace", key(&object.metadata).0, NAMESPACE);
        let extra = extra(file, object.rules.as_ref(), Scope::OwnNamespace);
        same(file, "a grant API_USE does not list", extra, None);
    }
}

// ---- the Dockerfile ----

/// One `FROM` stage: its name and its instructions (keyword upper-cased, rest of the line).
struct Stage {
    name: Option<String>,
    instructions: Vec<(String, String)>,
}

impl Stage {
    fn all<'a>(&'a self, keyword: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let matching = self.instructions.iter().filter(move |(k, _)| k == keyword);
        matching.map(|(_, rest)| rest.as_str())
    }

    fn last<'a>(&'a self, keyword: &'a str) -> &'a str {
        let last = self.all(keyword).last();
        last.unwrap_or_else(|| panic!("Dockerfile: no {keyword} in the last stage"))
    }

    /// The instruction that counts (the last), in exec form: a JSON array of strings.
    /// (Shell form runs `/bin/sh -c`: distroless has no shell, and SIGTERM would stop at sh.)
    fn exec_form(&self, keyword: &str) -> Vec<String> {
        let form = serde_json::from_str(self.last(keyword));
        form.unwrap_or_else(|_| panic!("Dockerfile: {keyword} must be a JSON array"))
    }
}

fn dockerfile() -> Vec<Stage> {
    let mut stages: Vec<Stage> = Vec::new();
    let mut logical = String::new();
    for line in read("Dockerfile").lines().map(str::trim) {
        if line.starts_with('#') || (line.is_empty() && logical.is_empty()) {
            continue;
        }
        if let Some(part) = line.strip_suffix('\\') {
            logical.push_str(part);
            continue;
        }
        logical.push_str(line);
        let line = std::mem::take(&mut logical);
        let (keyword, rest) = line.split_once(char::is_whitespace).unwrap_or((&line, ""));
        let (keyword, rest) = (keyword.to_ascii_uppercase(), rest.trim().to_owned());
        if keyword == "FROM" {
            let words: Vec<&str> = rest.split_whitespace().collect();
            let name = match words[..] {
                [_, as_, name] if as_.eq_ignore_ascii_case("as") => Some(name.to_owned()),
                _ => None,
            };
            let instructions = Vec::new();
            stages.push(Stage { name, instructions });
        } else {
            let stage = stages.last_mut().expect("Dockerfile: FROM first");
            stage.instructions.push((keyword, rest));
        }
    }
    stages
}

/// `--flag value` or `--flag=value`, for any of `names`.
fn flag<'a>(words: &[&'a str], names: &[&str]) -> Option<&'a str> {
    words.iter().enumerate().find_map(|(i, word)| {
        names.iter().find_map(|name| match word.strip_prefix(name) {
            Some("") => words.get(i + 1).copied(),
            Some(value) => value.strip_prefix('='),
            None => None,
        })
    })
}

/// The value of `key` in the first `table` of a Cargo.toml.
fn toml_value(text: &str, table: &str, key: &str) -> String {
    let mut inside = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == table;
        } else if let Some((k, v)) = line.split_once('=')
            && inside
            && k.trim() == key
        {
            return v.trim().trim_matches('"').to_owned();
        }
    }
    panic!("controller/Cargo.toml: no {key} in {table}");
}

/// What the image runs: where the binary is, ENTRYPOINT, CMD, USER and EXPOSEd ports.
struct Image {
    binary: String,
    entrypoint: Vec<String>,
    cmd: Vec<String>,
    user: String,
    exposed: BTreeSet<u16>,
}

/// The last stage; checks that it runs the `[[bin]]` of controller/Cargo.toml, copied from a
/// stage that builds it.
fn image() -> Image {
    let cargo = read("controller/Cargo.toml");
    let bin = toml_value(&cargo, "[[bin]]", "name");
    let package = toml_value(&cargo, "[package]", "name");
    let stages = dockerfile();
    let last = stages.last().expect("Dockerfile: no FROM");
    let built = format!("/target/release/{bin}");
    let copy = last.all("COPY").find_map(|rest| {
        let words: Vec<&str> = rest.split_whitespace().collect();
        let from = flag(&words, &["--from"])?;
        let [.., source, dest] = words[..] else {
            return None;
        };
        let file = dest.strip_suffix('/').map(|dir| format!("{dir}/{bin}"));
        let dest = file.unwrap_or_else(|| dest.to_owned());
        source.ends_with(&built).then(|| (from.to_owned(), dest))
    });
    let copy = copy.unwrap_or_else(|| panic!("Dockerfile: no COPY --from=... ...{built}"));
    let (from, binary) = copy;
    let build = stages.iter().find(|s| s.name.as_ref() == Some(&from));
    let build = build.unwrap_or_else(|| panic!("Dockerfile: no stage named {from}"));
    let builds = build.all("RUN").any(|run| {
        let words: Vec<&str> = run.split_whitespace().collect();
        words.windows(2).any(|w| w == ["cargo", "build"])
            && ["--release", "--locked"].iter().all(|w| words.contains(w))
            && flag(&words, &["--bin"]) == Some(bin.as_str())
            && flag(&words, &["-p", "--package"]) == Some(package.as_str())
    });
    let command = format!("cargo build --release --locked -p {package} --bin {bin}");
    let what = format!("stage {from} must run `{command}`");
    check("Dockerfile", builds, &what);
    let entrypoint = last.exec_form("ENTRYPOINT");
    let program = entrypoint.first();
    same("Dockerfile", "ENTRYPOINT", program, Some(&binary));
    let port = |p: &str| p.trim_end_matches("/tcp").parse().expect("EXPOSE port");
    let exposed = last.all("EXPOSE").flat_map(str::split_whitespace);
    let exposed = exposed.map(port).collect();
    // CMD is optional: the entrypoint may carry the subcommand itself.
    let cmd = if last.all("CMD").next().is_some() {
        last.exec_form("CMD")
    } else {
        Vec::new()
    };
    let user = last.last("USER").to_owned();
    Image {
        binary,
        entrypoint,
        cmd,
        user,
        exposed,
    }
}

#[test]
fn dockerfile_builds_copies_and_runs_the_strait_binary() {
    let image = image();
    let absolute = image.binary.starts_with('/');
    check("Dockerfile", absolute, "COPY to an absolute path");
}

// ---- the container's command line, parsed by the real CLI ----

/// Docker's ENTRYPOINT/CMD under Kubernetes' `command`/`args`, then the container's `env`,
/// parsed by the real `Cli`.
fn setup() -> (Deploy, Image, ControllerArgs) {
    let (deploy, image) = (Deploy::load(), image());
    let (found, _, container) = deploy.deployment();
    let file = &found.file;
    let command = container.command.as_ref();
    let mut argv = command.unwrap_or(&image.entrypoint).clone();
    match (&container.command, &container.args) {
        (_, Some(args)) => argv.extend(args.iter().cloned()),
        (Some(_), None) => {}
        (None, None) => argv.extend(image.cmd.iter().cloned()),
    }
    let program = argv.first();
    same(
        file,
        "the container's program",
        program,
        Some(&image.binary),
    );
    env_flags(found, container, &mut argv);
    let line = argv.join(" ");
    let cli = Cli::try_parse_from(&argv);
    let cli = cli.unwrap_or_else(|e| panic!("{file}: `{line}` does not parse: {e}"));
    let Command::Controller(args) = cli.command else {
        panic!("{file}: `{line}` is not `strait controller`");
    };
    (deploy, image, args)
}

/// The container's `env` as flags. clap reads the process environment, which a test cannot set
/// for it, so each variable the CLI reads becomes `--flag=value` unless the flag is given.
fn env_flags(found: &Found<Deployment>, container: &Container, argv: &mut Vec<String>) {
    let cli = Cli::command();
    let controller = cli.find_subcommand("controller").expect("subcommand");
    for arg in controller.get_arguments() {
        let env = arg.get_env().and_then(OsStr::to_str);
        let (Some(env), Some(long)) = (env, arg.get_long()) else {
            continue;
        };
        let leaks = env != "KUBECONFIG" && std::env::var_os(env).is_some();
        assert!(!leaks, "unset {env}: clap would read it in this test");
        let var = container.env.iter().flatten().find(|var| var.name == env);
        let Some(value) = var.and_then(|var| env_value(found, var)) else {
            continue;
        };
        let flag = format!("--{long}");
        let given = |a: &String| *a == flag || a.starts_with(&format!("{flag}="));
        if argv.iter().any(given) {
            continue;
        }
        if arg.get_action().takes_values() {
            argv.push(format!("{flag}={value}"));
        } else if value != "false" {
            argv.push(flag);
        }
    }
}

/// A variable's value; downward-API fields as the kubelet would fill them in.
fn env_value(found: &Found<Deployment>, var: &EnvVar) -> Option<String> {
    let from = var.value_from.as_ref();
    let field = from.and_then(|from| from.field_ref.as_ref());
    match field.map(|field| field.field_path.as_str()) {
        Some("metadata.name") => Some("strait-6c9f7d-x2x8q".to_owned()),
        Some("metadata.namespace") => found.object.metadata.namespace.clone(),
        _ => var.value.clone(),
    }
}

/// A container port by name, or a number.
fn port_number(file: &str, container: &Container, port: &IntOrString) -> i32 {
    let name = match port {
        IntOrString::Int(number) => return *number,
        IntOrString::String(name) => Some(name.as_str()),
    };
    let mut ports = container.ports.iter().flatten();
    let port = ports.find(|port| port.name.as_deref() == name);
    let port = port.unwrap_or_else(|| panic!("{file}: no container port {name:?}"));
    port.container_port
}

#[test]
fn container_runs_strait_controller_with_the_downward_api() {
    let (deploy, _, args) = setup();
    let file = &deploy.deployment().0.file;
    let namespace = args.pod_namespace.as_deref();
    same(file, "POD_NAMESPACE", namespace, Some(NAMESPACE));
    check(file, args.pod_name.is_some(), "POD_NAME unset");
}

#[test]
fn termination_grace_covers_the_drain() {
    let (deploy, _, args) = setup();
    let (found, spec, _) = deploy.deployment();
    let drain = args.common.shutdown_delay + args.common.shutdown_grace;
    let period = spec.termination_grace_period_seconds.unwrap_or(30);
    let period = Duration::from_secs(u64::try_from(period).unwrap_or(0));
    assert!(
        period > drain,
        "{}: terminationGracePeriodSeconds ({period:?}) must exceed the shutdown delay plus \
         grace ({drain:?}), or the kubelet kills requests still in flight",
        found.file
    );
}

#[test]
fn ports_agree_between_cli_image_deployment_and_service() {
    let (deploy, image, args) = setup();
    let (found, _, container) = deploy.deployment();
    let (file, common) = (&found.file, &args.common);
    let listeners = [
        ("http", common.http_addr),
        ("https", common.https_addr),
        ("admin", common.admin_addr),
    ];
    for (name, addr) in listeners {
        let port = port_number(file, container, &IntOrString::String(name.into()));
        same(file, &format!("port {name}"), port, i32::from(addr.port()));
        let reachable = !addr.ip().is_loopback() && addr.port() != 0;
        let what = format!("{name} listener {addr} is unreachable");
        check(file, reachable, &what);
    }
    let ports: BTreeSet<u16> = listeners.iter().map(|(_, addr)| addr.port()).collect();
    same("Dockerfile", "EXPOSE", image.exposed, ports);

    let published = args.publish_service.as_ref();
    let published = published.unwrap_or_else(|| panic!("{file}: no --publish-service"));
    let service = find(&deploy.services, &published.namespace, &published.name);
    let service = service.unwrap_or_else(|| panic!("{file}: no Service {published} in deploy/"));
    let (file, spec) = (&service.file, service.object.spec.as_ref().expect("spec"));
    same(file, "type", spec.type_.as_deref(), Some("LoadBalancer"));
    let mut targets = BTreeMap::new();
    for port in spec.ports.iter().flatten() {
        let target = port.target_port.as_ref();
        let target = target.map_or(port.port, |t| port_number(file, container, t));
        targets.insert(target, port.port);
    }
    let http = i32::from(common.http_addr.port());
    let https = i32::from(common.https_addr.port());
    let targeted: Vec<i32> = targets.keys().copied().collect();
    same(file, "target ports", targeted, vec![http, https]);
    // HTTP→HTTPS redirects name `--https-redirect-port` (0: the listener's own port).
    let redirect = match common.https_redirect_port {
        0 => https,
        port => i32::from(port),
    };
    let what = "HTTPS port vs --https-redirect-port";
    same(file, what, targets[&https], redirect);
}

#[test]
fn selectors_pick_the_deployments_pods() {
    let deploy = Deploy::load();
    let spec = &deploy.deployment().0.object.spec;
    let labels = spec.template.metadata.as_ref().map(|m| &m.labels);
    let labels = labels.cloned().flatten().unwrap_or_default();
    let picks = |selector: &BTreeMap<String, String>| {
        !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
    };
    let what = format!("selector does not pick the pods {labels:?}");
    for Found { file, object } in &deploy.services {
        let selector = object.spec.as_ref().and_then(|s| s.selector.clone());
        check(file, picks(&selector.unwrap_or_default()), &what);
    }
    let replicas = spec.replicas.unwrap_or(1);
    for Found { file, object } in &deploy.pdbs {
        let spec = object.spec.as_ref().expect("PodDisruptionBudget spec");
        let selector = spec.selector.as_ref().and_then(|s| s.match_labels.clone());
        check(file, picks(&selector.unwrap_or_default()), &what);
        let min = &spec.min_available;
        let drainable = matches!(min, Some(IntOrString::Int(n)) if *n < replicas);
        check(file, drainable, "minAvailable must be below the replicas");
    }
}

/// A GET for an httpGet probe's path; checks that it probes the admin port over plain HTTP.
fn probe(file: &str, container: &Container, which: &str, admin: u16) -> Request<Empty<Bytes>> {
    let probe = match which {
        "livenessProbe" => container.liveness_probe.as_ref(),
        _ => container.readiness_probe.as_ref(),
    };
    let get = probe.and_then(|probe| probe.http_get.as_ref());
    let get = get.unwrap_or_else(|| panic!("{file}: {which} must be an httpGet probe"));
    let port = port_number(file, container, &get.port);
    same(file, &format!("{which} port"), port, i32::from(admin));
    let http = get.scheme.as_deref().is_none_or(|scheme| scheme == "HTTP");
    check(file, http, &format!("{which}: admin is plain HTTP"));
    let path = get.path.as_deref().unwrap_or("/");
    Request::get(path).body(Empty::new()).expect("request")
}

#[tokio::test]
async fn probes_reach_the_admin_listener() {
    let (deploy, _, args) = setup();
    let (found, _, container) = deploy.deployment();
    let (file, port) = (&found.file, args.common.admin_addr.port());
    let readiness = Readiness::new();
    let admin = Admin::new(readiness.clone());
    let kubelet: SocketAddr = "10.0.0.1:41000".parse().expect("address");
    // Liveness passes before the first table, or a slow start restarts the pod in a loop.
    let live = probe(file, container, "livenessProbe", port);
    let path = live.uri().path().to_owned();
    let status = admin.handle(kubelet, live).await.status();
    let what = format!("livenessProbe {path} before ready");
    same(file, &what, status, StatusCode::OK);
    // Readiness is served by the admin listener and follows readiness.
    let ready = || probe(file, container, "readinessProbe", port);
    let path = ready().uri().path().to_owned();
    let before = admin.handle(kubelet, ready()).await.status();
    readiness.set_ready(true);
    let after = admin.handle(kubelet, ready()).await.status();
    let what = format!("readinessProbe {path} before and after ready");
    let expected = (StatusCode::SERVICE_UNAVAILABLE, StatusCode::OK);
    same(file, &what, (before, after), expected);
}

#[test]
fn image_and_deployment_run_as_uid_65532() {
    let (deploy, image, _) = setup();
    // runAsNonRoot can only check a numeric USER.
    let (uid, gid) = image.user.split_once(':').unwrap_or((&image.user, "65532"));
    let user = (uid.parse().ok(), gid.parse().ok());
    let what = format!("USER {} as numeric uid:gid", image.user);
    same("Dockerfile", &what, user, (Some(UID), Some(UID)));
    let (found, spec, container) = deploy.deployment();
    let own = container.security_context.clone().unwrap_or_default();
    let pod = spec.security_context.clone().unwrap_or_default();
    let user = own.run_as_user.or(pod.run_as_user);
    let group = own.run_as_group.or(pod.run_as_group);
    let non_root = own.run_as_non_root.or(pod.run_as_non_root);
    let expected = (Some(UID), Some(UID), Some(true));
    let what = "runAsUser, runAsGroup, runAsNonRoot";
    same(&found.file, what, (user, group, non_root), expected);
}

#[test]
fn ingress_class_names_strait_as_its_controller() {
    let (deploy, _, args) = setup();
    let default = strait_shared::CompileConfig::default().controller_name;
    let file = &deploy.deployment().0.file;
    same(
        file,
        "--controller-name",
        &args.common.controller_name,
        &default,
    );
    let name = &args.common.ingress_class;
    let class = find(&deploy.ingress_classes, "", name);
    let class = class.unwrap_or_else(|| panic!("deploy/: no IngressClass {name}"));
    let spec = class.object.spec.as_ref();
    let controller = spec.and_then(|s| s.controller.as_deref());
    same(
        &class.file,
        "spec.controller",
        controller,
        Some(default.as_str()),
    );
}
