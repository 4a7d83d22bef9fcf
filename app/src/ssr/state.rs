//! The one state struct, built once at start and shared by every request.

use std::sync::Arc;

use crate::ssr::db::Pool;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::ssr::auth::hasher::PasswordHasher;
use crate::ssr::clock::SharedClock;
use crate::ssr::config::Settings;
use crate::ssr::mfa::sealing::SealingKey;
use crate::ssr::session::SessionPolicy;
use crate::ssr::session::SqlSessionStore;

/// Cloned for every request (Leptos' context, axum's middleware state), so
/// a clone is one reference count, not one per field: a perf profile of
/// `GET /account` showed the per-field clones and drops at ~5% of the
/// server's CPU.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl Shared {
    /// "London, GB" for an address as stored, when `[geoip]` is on and
    /// knows it (issue 25): what the pages show beside an IP.
    pub fn place_name(&self, ip: Option<&str>) -> Option<String> {
        self.geoip.as_ref()?.locate_text(ip?)?.name()
    }

    /// `place_name` of an audit row: the place it was judged with, when
    /// the row kept one (a sign-in), else the address's place now.
    pub fn place_name_of_event(&self, ip: Option<&str>, details: &str) -> Option<String> {
        crate::ssr::geoip::Place::of_audit_details(details)
            .and_then(|place| place.name())
            .or_else(|| self.place_name(ip))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

#[derive(Debug)]
pub struct Shared {
    pub settings: Arc<Settings>,
    pub db: Pool,
    pub clock: SharedClock,
    pub hasher: PasswordHasher,
    /// The concrete store appears here and in start-up only; everything
    /// else goes through `AuthSession` or the `SessionBackend` trait.
    pub sessions: Arc<SqlSessionStore>,
    /// On PostgreSQL: what keeps the session cache true across servers.
    pub cross_server: Option<crate::ssr::session::cross_server::CrossServer>,
    pub session_policy: SessionPolicy,
    /// Seals TOTP secrets; `None` when no key file exists (MFA cannot be
    /// turned on, and start-up refuses if any user has it on).
    pub mfa_key: Option<SealingKey>,
    /// Keys the audit log's session hashes: derived from the MFA key, or
    /// random for this process when there is none (hashes then link
    /// events only until a restart).
    pub audit_key: [u8; 32],
    /// `[proxy] trusted`, parsed.
    pub trusted_proxies: Vec<crate::ssr::http::proxy::Network>,
    /// `[geoip] database`, when set: where addresses are.
    pub geoip: Option<Arc<crate::ssr::geoip::Locator>>,
    /// `[alerts] webhook_url`'s sender, when one is set.
    pub alert_webhook: Option<crate::ssr::audit::webhook::Webhook>,
    /// `[server] instance_header`, when set (cluster tests).
    pub instance_header: Option<axum::http::HeaderValue>,
    /// Signs and checks API access tokens (issue 14).
    pub access_tokens: crate::ssr::tokens::keys::AccessTokens,
    /// Verifies passkeys for `[webauthn]`'s relying party.
    pub webauthn: Arc<webauthn_rs::Webauthn>,
    /// Leptos' settings. The router's state is `AppState`, not these: axum
    /// and leptos_axum clone the router state for every request, and a
    /// `LeptosOptions` clone is a dozen shared reference counts (perf of
    /// `/api/session_status`: clone + drop 6.7% of the server's CPU).
    pub leptos_options: LeptosOptions,
}

/// For leptos_axum's file and error handler, which reads the site root.
impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
