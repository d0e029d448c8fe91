//! The `strait` binary: parse the command line, install tracing and the crypto provider, run
//! one command, map errors to an exit code. Everything else lives in the library.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use strait_controller::cli::{Cli, Command};
use strait_controller::logging::{self, LogControl};
use strait_controller::{check, demo, echo, serve};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `strait check` that could not run exits 2, apart from its 1 (something to look at).
    let is_check = matches!(cli.command, Command::Check(_));
    let failure = if is_check {
        ExitCode::from(check::EXIT_UNUSABLE)
    } else {
        ExitCode::FAILURE
    };
    // `--log`, else `RUST_LOG`, else `info`; lines on stderr (stdout is kept for data such as
    // the access log). `strait check` prints a report, not a log: errors only unless asked.
    let quiet = is_check && std::env::var_os("RUST_LOG").is_none();
    let log = cli.log.as_deref().or(quiet.then_some("error"));
    let log_control = match logging::install(cli.log_format, log) {
        Ok(control) => control,
        Err(error) => {
            eprintln!("strait: {}", one_line(&error));
            return failure;
        }
    };
    // One crypto provider for the whole process (ring, as kube-rs): TLS configs name it
    // explicitly, and this covers any that rely on the process default.
    if rustls::crypto::ring::default_provider()
        .install_default()
        .is_err()
    {
        tracing::debug!("a rustls crypto provider was already installed");
    }
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")
        .and_then(|runtime| runtime.block_on(run(cli.command, log_control)));
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("strait: {}", one_line(&error));
            failure
        }
    }
}

/// The error chain on one line, `outer: cause: root cause`, like `{:#}` but without the
/// repeats: many library errors (kube's, io wrappers) already end with their source's text,
/// which `{:#}` would print a second time. Line breaks (a YAML error's snippet) become spaces.
fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if line.ends_with(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

async fn run(command: Command, log_control: LogControl) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve(args) => {
            let drain = args.common.shutdown_delay;
            let config = args.into_config();
            run_server(config, log_control, drain).await?;
        }
        Command::Controller(args) => {
            let drain = args.common.shutdown_delay;
            let config = args.into_config();
            run_server(config, log_control, drain).await?;
        }
        Command::Check(args) => return check::run(args).await.map(ExitCode::from),
        Command::Demo(args) => demo::run(args, shutdown_signal()).await?,
        Command::Echo(args) => {
            let listener = tokio::net::TcpListener::bind(args.addr)
                .await
                .with_context(|| format!("binding {}", args.addr))?;
            tracing::info!(addr = %listener.local_addr()?, name = %args.name, "echo listening");
            echo::serve_echo(listener, args.name, shutdown_signal()).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Serves until SIGTERM/SIGINT, then drains for `drain` and shuts down.
async fn run_server(
    config: serve::ServeConfig,
    log_control: LogControl,
    drain: std::time::Duration,
) -> anyhow::Result<()> {
    let config = serve::ServeConfig {
        log_control: Some(log_control),
        ..config
    };
    // Listen for the signals before anything is served: a SIGTERM that arrives while the
    // server starts must drain it, not kill the process by default.
    let signal = shutdown_signal();
    let running = serve::start(config).await?;
    running.run_until(signal, drain).await
}

/// Listens for SIGINT (Ctrl-C) and SIGTERM from now on; the future resolves on the first.
/// Must be called within the runtime.
#[cfg(unix)]
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{Signal, SignalKind, signal};
    let listen = |kind: SignalKind, name: &'static str| {
        signal(kind)
            .inspect_err(|error| tracing::error!(%error, "cannot listen for {name}"))
            .ok()
    };
    async fn next(signal: Option<Signal>) {
        match signal {
            Some(mut signal) => {
                signal.recv().await;
            }
            None => std::future::pending().await,
        }
    }
    let interrupt = next(listen(SignalKind::interrupt(), "SIGINT"));
    let terminate = next(listen(SignalKind::terminate(), "SIGTERM"));
    async move {
        tokio::select! {
            () = interrupt => tracing::info!("SIGINT received; shutting down"),
            () = terminate => tracing::info!("SIGTERM received; shutting down"),
        }
    }
}

/// Resolves on the first Ctrl-C.
#[cfg(not(unix))]
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
        tracing::info!("Ctrl-C received; shutting down");
    }
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[derive(Debug, thiserror::Error)]
    #[error("failed to read kubeconfig: {0}")]
    struct Repeats(#[source] std::io::Error);

    #[test]
    fn the_error_chain_is_one_line_without_repeats() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        let error = anyhow::Error::new(Repeats(io)).context("connecting");
        assert_eq!(
            one_line(&error),
            "connecting: failed to read kubeconfig: No such file"
        );
        let plain = anyhow::anyhow!("root\n  --> line 1").context("outer");
        assert_eq!(one_line(&plain), "outer: root --> line 1");
    }
}
