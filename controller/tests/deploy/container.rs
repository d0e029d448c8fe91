//! The container's command line, parsed by the real CLI, and what the Deployment, the Service and the admin listener must agree on.

use super::*;

/// Every overlay with the image and the `strait controller` command line of its container.
pub(crate) fn setup() -> Vec<(Deploy, Image, ControllerArgs)> {
    let image = image();
    let parse = |deploy: Deploy| {
        let args = controller_args(&deploy, &image);
        (deploy, image.clone(), args)
    };
    Deploy::all().into_iter().map(parse).collect()
}

/// Docker's ENTRYPOINT/CMD under Kubernetes' `command`/`args`, then the container's `env`,
/// parsed by the real `Cli`.
fn controller_args(deploy: &Deploy, image: &Image) -> ControllerArgs {
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
    args
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
pub(crate) fn port_number(file: &str, container: &Container, port: &IntOrString) -> i32 {
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
    for (deploy, _, args) in setup() {
        let file = &deploy.deployment().0.file;
        let namespace = args.pod_namespace.as_deref();
        same(file, "POD_NAMESPACE", namespace, Some(NAMESPACE));
        check(file, args.pod_name.is_some(), "POD_NAME unset");
    }
}

#[test]
fn termination_grace_covers_the_drain() {
    for (deploy, _, args) in setup() {
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
}

/// The Service in front of the proxy: the one that targets the `http` container port.
pub(crate) fn front_service<'a>(deploy: &'a Deploy, container: &Container) -> &'a Found<Service> {
    let file = &deploy.deployment().0.file;
    let http = port_number(file, container, &IntOrString::String("http".into()));
    let fronts: Vec<&Found<Service>> = deploy
        .services
        .iter()
        .filter(|found| {
            let ports = found
                .object
                .spec
                .iter()
                .flat_map(|s| s.ports.iter().flatten());
            let mut targets = ports.filter_map(|p| p.target_port.as_ref());
            targets.any(|t| port_number(&found.file, container, t) == http)
        })
        .collect();
    let [front] = fronts[..] else {
        panic!(
            "{file}: {} Services target the http port, expected 1",
            fronts.len()
        );
    };
    front
}

#[test]
fn ports_agree_between_cli_image_deployment_and_service() {
    for (deploy, image, args) in setup() {
        ports_agree(&deploy, &image, &args);
    }
}

fn ports_agree(deploy: &Deploy, image: &Image, args: &ControllerArgs) {
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
    same("Dockerfile", "EXPOSE", image.exposed.clone(), ports);

    // --publish-service copies a load balancer's address: it must name one.
    let front = front_service(deploy, container);
    let spec = front.object.spec.as_ref().expect("spec");
    if let Some(published) = &args.publish_service {
        let service = find(&deploy.services, &published.namespace, &published.name);
        let service = service.unwrap_or_else(|| panic!("{file}: no Service {published}"));
        let spec = service.object.spec.as_ref().expect("spec");
        same(
            file,
            "--publish-service type",
            spec.type_.as_deref(),
            Some("LoadBalancer"),
        );
    }
    let mut targets = BTreeMap::new();
    for port in spec.ports.iter().flatten() {
        let target = port.target_port.as_ref();
        let target = target.map_or(port.port, |t| port_number(file, container, t));
        targets.insert(target, port.port);
    }
    let http = i32::from(common.http_addr.port());
    let https = i32::from(common.https_addr.port());
    let targeted: Vec<i32> = targets.keys().copied().collect();
    same(&front.file, "target ports", targeted, vec![http, https]);
    // HTTP→HTTPS redirects name `--https-redirect-port` (0: the listener's own port); where
    // clients arrive: the load balancer's port, or the host port. (Behind node ports, the
    // port is the one of whatever is in front; the baremetal overlay says so.)
    let redirect = match common.https_redirect_port {
        0 => https,
        port => i32::from(port),
    };
    let what = "HTTPS port vs --https-redirect-port";
    let host_port = |target: i32| {
        let ports = container.ports.iter().flatten();
        ports
            .filter(|p| p.container_port == target)
            .find_map(|p| p.host_port)
    };
    match (spec.type_.as_deref(), host_port(https)) {
        (_, Some(host)) => {
            same(file, "hostPort of http", host_port(http), Some(80));
            same(file, what, host, redirect);
        }
        (Some("LoadBalancer"), None) => same(&front.file, what, targets[&https], redirect),
        (Some("NodePort"), None) => {}
        (kind, None) => panic!(
            "{}: type {kind:?} and no host ports: unreachable",
            front.file
        ),
    }
}

#[test]
fn selectors_pick_the_deployments_pods() {
    for deploy in Deploy::all() {
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
            let max = &spec.max_unavailable;
            let drainable = matches!(min, Some(IntOrString::Int(n)) if *n < replicas)
                || matches!((min, max), (None, Some(IntOrString::Int(n))) if *n >= 1);
            let what = "a drain must be able to evict a pod: minAvailable below the replicas, \
                        or maxUnavailable at least 1";
            check(file, drainable, what);
        }
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
    for (deploy, _, args) in setup() {
        probes_reach(&deploy, &args).await;
    }
}

async fn probes_reach(deploy: &Deploy, args: &ControllerArgs) {
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
    for (deploy, image, _) in setup() {
        runs_as_65532(&deploy, &image);
    }
}

fn runs_as_65532(deploy: &Deploy, image: &Image) {
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
    for (deploy, _, args) in setup() {
        names_strait(&deploy, &args);
    }
}

fn names_strait(deploy: &Deploy, args: &ControllerArgs) {
    let default = strait_shared::CompileConfig::default().controller_names;
    let file = &deploy.deployment().0.file;
    same(
        file,
        "--controller-name",
        &args.common.translation.controller_name,
        &default,
    );
    for name in &args.common.translation.ingress_class {
        let class = find(&deploy.ingress_classes, "", name);
        let class = class.unwrap_or_else(|| panic!("{file}: no IngressClass {name}"));
        let spec = class.object.spec.as_ref();
        let controller = spec.and_then(|s| s.controller.as_deref());
        same(
            &class.file,
            "spec.controller",
            controller,
            default.first().map(String::as_str),
        );
    }
}
