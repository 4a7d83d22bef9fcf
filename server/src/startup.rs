//! Building the app: settings checked, the database, keys and state made
//! once, the listeners bound. The routes and their layers are in
//! `router.rs`, the clean-up tasks in `maintenance.rs`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use app::ssr::auth::hasher::HashQueue;
use app::ssr::auth::hasher::PasswordHasher;
use app::ssr::auth::password::HashError;
use app::ssr::clock::SharedClock;
use app::ssr::config::ConfigError;
use app::ssr::config::Settings;
use app::ssr::db::connect_and_migrate;
use app::ssr::db::DbError;
use app::ssr::http::assets::HashedAssets;
use app::ssr::mfa::factors;
use app::ssr::mfa::sealing::KeyFileError;
use app::ssr::mfa::sealing::SealingKey;
use app::ssr::session::SessionPolicy;
use app::ssr::session::SqlSessionStore;
use app::ssr::state::AppState;
use app::ssr::state::Shared;
use axum::body::Body;
use axum::http::Request;
use axum::Router;
use leptos::prelude::LeptosOptions;
use tokio::net::TcpListener;

use crate::serve::{StopSignals, Stopped};
use crate::tls::Certificates;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Settings(#[from] ConfigError),
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("cannot prepare password hashing: {0}")]
    Hashing(#[from] HashError),
    #[error(transparent)]
    MfaKey(#[from] KeyFileError),
    #[error(
        "users have two-step verification on, but the MFA key file {0} does not exist: \
         restore the key that sealed their secrets (or point [mfa] key_file / \
         TESSERA_MFA_KEY_FILE at it); without it nobody with MFA can sign in"
    )]
    MfaKeyMissing(String),
    #[error(
        "{count} stored TOTP secrets do not open with the MFA key file {file}: point [mfa] \
         key_file (TESSERA_MFA_KEY_FILE) at the key that sealed them; after a rotation that \
         ran while a server was up, run `server rotate-mfa-key` again from the old key to \
         finish it (docs/mfa-and-step-up.md, \"Keys\")"
    )]
    MfaKeyWrong { file: String, count: u64 },
    #[error("cannot check the MFA data: {0}")]
    MfaCheck(#[from] sqlx::Error),
    #[error(
        "refusing to serve plain HTTP on {0}: session cookies would cross the network \
         unencrypted. Turn on built-in TLS ([tls] cert_path and key_path), or listen on a \
         loopback address (127.0.0.1) behind a reverse proxy that terminates TLS and list \
         that proxy in [proxy] trusted (TESSERA_PROXY_TRUSTED); see docs/deployment.md, \
         \"Deployment\""
    )]
    PlainHttpOnPublicAddress(SocketAddr),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    #[error(transparent)]
    AccessTokenKeys(#[from] app::ssr::tokens::keys::KeyError),
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
    /// With `[tls]` on: the certificate new connections get.
    tls: Option<Arc<Certificates>>,
    /// With `[tls] redirect_addr`: the plain-HTTP listener that redirects.
    redirect: Option<TcpListener>,
}

impl Application {
    /// Connects and migrates the database, binds the listener (port 0 picks
    /// a free port, for tests) and starts the session clean-up task.
    pub async fn build(
        settings: Settings,
        mut leptos_options: LeptosOptions,
        clock: SharedClock,
    ) -> Result<Self, StartupError> {
        // Settings built in code (tests) pass the same checks as a file.
        let parsed = settings.validate()?;
        // ASVS 12.2.1 / the seed's "always HTTPS": plain HTTP only where no
        // network sits between us and the TLS terminator we trust.
        let address = leptos_options.site_addr;
        let tls = &settings.tls;
        if !tls.enabled() && !address.ip().is_loopback() && settings.proxy.trusted.trim().is_empty()
        {
            return Err(StartupError::PlainHttpOnPublicAddress(address));
        }
        let certificates = if tls.enabled() {
            if tls.self_signed
                && crate::tls::ensure_self_signed(
                    &tls.cert_path,
                    &tls.key_path,
                    std::time::SystemTime::now(),
                )?
            {
                tracing::warn!(
                    cert = %tls.cert_path.display(),
                    "created a self-signed certificate for localhost (development only)"
                );
            }
            Some(Arc::new(Certificates::load(&tls.cert_path, &tls.key_path)?))
        } else {
            None
        };
        let redirect = match parsed.redirect_addr {
            None => None,
            Some(address) => Some(
                TcpListener::bind(address)
                    .await
                    .map_err(|source| StartupError::Listen { address, source })?,
            ),
        };
        for warning in settings.warnings() {
            tracing::warn!("{warning}");
        }
        let db = connect_and_migrate(&settings.database).await?;
        let mfa_key = SealingKey::load(&settings.mfa.key_file)?;
        if mfa_key.is_none() && factors::any_enrolled(&db).await? {
            return Err(StartupError::MfaKeyMissing(
                settings.mfa.key_file.display().to_string(),
            ));
        }
        if let Some(key) = &mfa_key {
            let count = factors::unopenable(&db, key).await?;
            if count > 0 {
                return Err(StartupError::MfaKeyWrong {
                    file: settings.mfa.key_file.display().to_string(),
                    count,
                });
            }
        }
        // `validate` checked these; webauthn-rs checks them once more.
        let webauthn = parsed
            .relying_party
            .verifier(settings.webauthn.challenge_timeout_secs)
            .map_err(|why| {
                StartupError::Settings(ConfigError::Invalid(format!("[webauthn]: {why}")))
            })?;
        // Pages name the build's files by their content hash (issue 13).
        let assets = HashedAssets::of_build(
            std::path::Path::new(&*leptos_options.site_root),
            &leptos_options.site_pkg_dir,
            &leptos_options.output_name,
        );
        if let Some(assets) = &assets {
            leptos_options.output_name = assets.hashed_stem().into();
        }
        // A missing or broken file is an error at start that names the
        // setting; later, a broken replacement leaves this one in use.
        let geoip = match settings.geoip.enabled() {
            false => None,
            true => {
                let path = settings.geoip.database.clone();
                let locator =
                    tokio::task::spawn_blocking(move || app::ssr::geoip::Locator::open(&path))
                        .await
                        .map_err(|e| ConfigError::Invalid(format!("geoip.database: {e}")))?
                        .map_err(ConfigError::Invalid)?;
                let locator = Arc::new(locator);
                locator.watch();
                Some(locator)
            }
        };
        let session_policy = SessionPolicy::new(&settings.session);
        let cache_entries = settings.session.cache_max_entries as usize;
        let (sessions, cross_server) = match app::ssr::db::Engine::of(&db) {
            app::ssr::db::Engine::Sqlite => {
                let store = SqlSessionStore::new(
                    db.clone(),
                    session_policy,
                    clock.clone(),
                    settings.session.max_per_user,
                    cache_entries,
                );
                (Arc::new(store), None)
            }
            // Other servers write the same rows: the cache hears of their
            // writes, or answers nothing (issue 24).
            app::ssr::db::Engine::Postgres => {
                let store = SqlSessionStore::shared(
                    db.clone(),
                    session_policy,
                    clock.clone(),
                    settings.session.max_per_user,
                    cache_entries,
                );
                let cross_server = match cache_entries {
                    0 => None,
                    _ => Some(
                        app::ssr::session::cross_server::start(
                            settings.database.url.clone(),
                            &store.cache(),
                            Duration::from_millis(settings.session.cache_staleness_ms),
                        )
                        .map_err(DbError::from)?,
                    ),
                };
                (Arc::new(store), cross_server)
            }
        };
        let access_tokens =
            app::ssr::tokens::keys::AccessTokens::start(&settings.jwt, clock.now())?;
        let password = &settings.password;
        let instance_header = Some(settings.server.instance_header.trim())
            .filter(|name| !name.is_empty())
            .and_then(|name| axum::http::HeaderValue::from_str(name).ok());
        let state = AppState::new(Shared {
            instance_header,
            access_tokens,
            hasher: PasswordHasher::new(
                password.hash_concurrency,
                password.hash_thread_nice,
                HashQueue {
                    max_waiting: password.hash_queue_max as usize,
                    timeout: Duration::from_secs(password.hash_queue_timeout_secs),
                },
            )
            .await?,
            audit_key: mfa_key
                .as_ref()
                .map_or_else(app::ssr::audit::ephemeral_key, SealingKey::audit_key),
            trusted_proxies: parsed.trusted_proxies,
            geoip,
            alert_webhook: Some(settings.alerts.webhook_url.trim())
                .filter(|url| !url.is_empty())
                .map(|url| app::ssr::audit::webhook::Webhook::start(url.to_owned())),
            mfa_key,
            webauthn: Arc::new(webauthn),
            settings: Arc::new(settings),
            db,
            clock,
            sessions,
            cross_server,
            session_policy,
            leptos_options,
        });

        let address = state.leptos_options.site_addr;
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| StartupError::Listen { address, source })?;
        crate::maintenance::spawn_cleanup(state.clone());
        Ok(Self {
            router: crate::router::router(state.clone(), assets),
            listener,
            state,
            tls: certificates,
            redirect,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Where to point a browser: `https://` with built-in TLS.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.address())
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until stopped; see `serve`. Then closes the database pool
    /// (SQLite checkpoints its WAL into the file when the last connection
    /// closes).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(StopSignals::never()).await.map(|_| ())
    }

    /// As `run_until_stopped`, stopped by SIGTERM/SIGINT (`main`).
    pub async fn run_until_signalled(self) -> std::io::Result<Stopped> {
        if let Some(certificates) = &self.tls {
            certificates.reload_on_sighup()?;
        }
        self.run_until(StopSignals::from_os()?).await
    }

    /// The plain-HTTP redirect listener's address, when there is one.
    pub fn redirect_address(&self) -> Option<SocketAddr> {
        self.redirect.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The certificates in use (tests reload them).
    pub fn certificates(&self) -> Option<Arc<Certificates>> {
        self.tls.clone()
    }

    /// Serves until `signals` says stop (see `StopSignals::manual`).
    pub async fn run_until(self, signals: StopSignals) -> std::io::Result<Stopped> {
        if let Some(listener) = self.redirect {
            let https_port = self.listener.local_addr()?.port();
            let settings = self.state.settings.server.clone();
            let signals = signals.clone();
            tokio::spawn(async move {
                crate::serve::serve(
                    listener,
                    redirect_to_https(https_port),
                    &settings,
                    Vec::new(),
                    64,
                    signals,
                    None,
                )
                .await
            });
        }
        let stopped = crate::serve::serve(
            self.listener,
            self.router,
            &self.state.settings.server,
            self.state.trusted_proxies.clone(),
            self.state.settings.login.ipv6_prefix,
            signals,
            self.tls,
        )
        .await;
        self.state.db.close().await;
        tracing::info!(?stopped, "stopped");
        Ok(stopped)
    }
}

/// The plain-HTTP listener's one answer: 308 to the same host and path on
/// the HTTPS port (the method and body are kept by a 308). Nothing else is
/// served over plain HTTP, so no cookie is ever set there.
fn redirect_to_https(https_port: u16) -> Router {
    use axum::http::{header, uri::Authority, StatusCode};
    use axum::response::IntoResponse;
    Router::new().fallback(move |req: Request<Body>| async move {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.parse::<Authority>().ok());
        let Some(host) = host else {
            return (
                StatusCode::BAD_REQUEST,
                "HTTPS only: a Host header is needed",
            )
                .into_response();
        };
        let port = if https_port == 443 {
            String::new()
        } else {
            format!(":{https_port}")
        };
        let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
        let location = format!("https://{}{port}{path}", host.host());
        (
            StatusCode::PERMANENT_REDIRECT,
            [
                (header::LOCATION, location),
                (header::CACHE_CONTROL, "no-store".to_owned()),
            ],
        )
            .into_response()
    })
}
