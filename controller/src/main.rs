//! The `strait` binary: parse the command line, install tracing and the crypto provider, run
//! one command, map errors to an exit code. Everything else lives in the library.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use strait_controller::cli::{Cli, Command};
use strait_controller::logging::{self, LogControl};
use strait_controller::{demo, echo, serve};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `--log`, else `RUST_LOG`, else `info`; lines on stderr (stdout is kept for data such as
    // the access log).
    let log_control = match logging::install(cli.log_format, cli.log.as_deref()) {
        Ok(control) => control,
        Err(error) => {
            eprintln!("strait: {error:#}");
            return ExitCode::FAILURE;
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
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}` prints the whole chain, `outer: cause: root cause`, without a backtrace.
            eprintln!("strait: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, log_control: LogControl) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => {
            let drain = args.common.shutdown_delay;
            let config = args.into_config();
            run_server(config, log_control, drain).await
        }
        Command::Controller(args) => {
            let drain = args.common.shutdown_delay;
            let config = args.into_config();
            run_server(config, log_control, drain).await
        }
        Command::Demo(args) => demo::run(args, shutdown_signal()).await,
        Command::Echo(args) => {
            let listener = tokio::net::TcpListener::bind(args.addr)
                .await
                .with_context(|| format!("binding {}", args.addr))?;
            tracing::info!(addr = %listener.local_addr()?, name = %args.name, "echo listening");
            echo::serve_echo(listener, args.name, shutdown_signal()).await?;
            Ok(())
        }
    }
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
    let running = serve::start(config).await?;
    running.run_until(shutdown_signal(), drain).await
}

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT received; shutting down"),
        () = terminate => tracing::info!("SIGTERM received; shutting down"),
    }
}
