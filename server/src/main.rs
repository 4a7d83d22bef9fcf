//! `main` is a shim: read settings, build the app, serve.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use app::ssr::clock::SystemClock;
use app::ssr::config::LogFormat;
use app::ssr::config::Settings;
use server::startup::Application;

/// See server/Cargo.toml: measured by `make bench`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    // `server argon2-rate [SECONDS]`: the sign-in ceiling of this machine.
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some("argon2-rate") {
        let seconds = args.next().unwrap_or_else(|| "10".to_owned());
        let Ok(seconds) = seconds.parse::<f64>() else {
            eprintln!("tessera: argon2-rate takes a number of seconds, not {seconds:?}");
            return ExitCode::FAILURE;
        };
        return match server::argon2_rate::measure(seconds) {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(message) => {
                eprintln!("tessera: {message}");
                ExitCode::FAILURE
            }
        };
    }
    // The log format is a setting: read them first (a settings error is
    // reported on stderr and again by `run`).
    let format = load_settings()
        .map(|(settings, _)| settings.log.format)
        .unwrap_or_default();
    server::telemetry::init(format);
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|c| server::cli::is_command(c)) {
        let outcome = match load_settings() {
            Ok((settings, _)) => server::cli::run(&settings, &args).await,
            Err(message) => Err(message),
        };
        return match outcome {
            Ok(message) => {
                println!("{message}");
                ExitCode::SUCCESS
            }
            Err(message) => {
                eprintln!("tessera: {message}");
                ExitCode::FAILURE
            }
        };
    }
    match run(format).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            // With JSON logs every line is JSON (a log shipper reads them):
            // the error line above is the message.
            if format == LogFormat::Text {
                eprintln!("tessera: {message}");
            }
            ExitCode::FAILURE
        }
    }
}

/// The settings file and its Tessera settings. TESSERA_CONFIG names
/// another file; the default is the one at the workspace root, where `make
/// run` and cargo-leptos start us.
fn load_settings() -> Result<(Settings, PathBuf), String> {
    let config = std::env::var_os("TESSERA_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("Leptos.toml"));
    let settings = Settings::load(&config).map_err(|e| e.to_string())?;
    Ok((settings, config))
}

async fn run(format: LogFormat) -> Result<(), String> {
    let (settings, config) = load_settings()?;
    let leptos_options = leptos::config::get_configuration(config.to_str())
        .map_err(|e| format!("cannot read Leptos settings from {}: {e}", config.display()))?
        .leptos_options;
    let app = Application::build(settings, leptos_options, Arc::new(SystemClock))
        .await
        .map_err(|e| e.to_string())?;
    match format {
        LogFormat::Text => println!("Tessera is running at {}", app.url()),
        LogFormat::Json => tracing::info!(url = %app.url(), "Tessera is running"),
    }
    match app.run_until_signalled().await.map_err(|e| e.to_string())? {
        server::serve::Stopped::Gracefully => Ok(()),
        server::serve::Stopped::Forced => {
            Err("stopped before every request in flight was answered".to_owned())
        }
    }
}
