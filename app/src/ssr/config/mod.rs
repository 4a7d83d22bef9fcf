//! Typed runtime settings: defaults in code and in `Leptos.toml`, then
//! `TESSERA_<SECTION>_<KEY>` environment variables on top.
//!
//! Precedence, lowest first: `Settings::default()`, the file, the environment.
//! An unknown key or a value of the wrong type is an error at start-up, never
//! a silently ignored setting.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

// Sections whose struct lives beside the code that uses it.
pub use crate::ssr::audit::settings::{AlertSettings, AuditSettings};
pub use crate::ssr::auth::settings::{LoginSettings, PasswordSettings};
pub use crate::ssr::db::DatabaseSettings;
pub use crate::ssr::dbsc::settings::DbscSettings;
pub use crate::ssr::geoip::settings::{GeoipSettings, TravelAction};
pub use crate::ssr::mfa::settings::{MfaRequirement, MfaSettings};
pub use crate::ssr::passkeys::relying_party::WebauthnSettings;
pub use crate::ssr::session::settings::{SameSitePolicy, SessionSettings};
pub use crate::ssr::tokens::settings::JwtSettings;
pub use sections::*;

mod sections;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub session: SessionSettings,
    pub password: PasswordSettings,
    pub login: LoginSettings,
    pub limits: LimitSettings,
    pub mfa: MfaSettings,
    pub webauthn: WebauthnSettings,
    pub audit: AuditSettings,
    pub alerts: AlertSettings,
    pub log: LogSettings,
    pub proxy: ProxySettings,
    pub server: ServerSettings,
    pub tls: TlsSettings,
    pub jwt: JwtSettings,
    pub geoip: GeoipSettings,
    pub dbsc: DbscSettings,
}

/// The settings `Settings::validate` parsed to check them, typed.
#[derive(Debug)]
pub struct Parsed {
    /// `[tls] redirect_addr`, when set.
    pub redirect_addr: Option<std::net::SocketAddr>,
    /// `[proxy] trusted`.
    pub trusted_proxies: Vec<crate::ssr::http::proxy::Network>,
    /// `[webauthn]`: who passkeys are bound to.
    pub relying_party: crate::ssr::passkeys::relying_party::RelyingParty,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid settings: {0}")]
    Invalid(String),
}

/// Sections of `Leptos.toml` that belong to Leptos, not to Tessera.
const FOREIGN_SECTIONS: &[&str] = &["package"];

impl Settings {
    /// Defaults, then `path` (if it exists), then the process environment.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let file = match std::fs::read_to_string(path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        Self::from_sources(file.as_deref(), |name| std::env::var(name).ok())
    }

    /// The layering itself, with the environment injected so tests need not
    /// touch the process environment.
    pub fn from_sources(
        file: Option<&str>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let invalid = |e: &dyn std::fmt::Display| ConfigError::Invalid(e.to_string());
        let mut merged = toml::Table::try_from(Settings::default()).map_err(|e| invalid(&e))?;

        if let Some(text) = file {
            let mut table: toml::Table = text.parse().map_err(|e| invalid(&e))?;
            for name in FOREIGN_SECTIONS {
                table.remove(*name);
            }
            for (section, values) in table {
                let Some(target) = merged.get_mut(&section).and_then(|v| v.as_table_mut()) else {
                    return Err(ConfigError::Invalid(format!("unknown section [{section}]")));
                };
                let toml::Value::Table(values) = values else {
                    return Err(ConfigError::Invalid(format!("[{section}] is not a table")));
                };
                target.extend(values);
            }
        }

        for (section, values) in merged.iter_mut() {
            let Some(values) = values.as_table_mut() else {
                continue;
            };
            for (key, value) in values.iter_mut() {
                let name = format!("TESSERA_{section}_{key}").to_uppercase();
                if let Some(raw) = env(&name) {
                    *value = parse_env_value(&raw, value)
                        .map_err(|e| ConfigError::Invalid(format!("{name}: {e}")))?;
                }
            }
        }

        let settings: Settings = toml::Value::Table(merged)
            .try_into()
            .map_err(|e| invalid(&e))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Refuses settings the server cannot honour, naming the setting and
    /// the rule. `load` calls it, and so does start-up for settings built
    /// in code.
    /// Checks every setting, and hands back the values it had to parse to
    /// check them (start-up uses these, never parsing the same text again).
    pub fn validate(&self) -> Result<Parsed, ConfigError> {
        // Each concern checks its own section, beside its code.
        let concerns = [
            self.session.problem(),
            self.password.problem(),
            self.login.problem(),
            self.mfa.problem(),
            self.jwt.problem(),
            self.geoip.problem(),
            self.dbsc.problem(),
        ];
        if let Some(message) = concerns.into_iter().flatten().next() {
            return Err(ConfigError::Invalid(message.to_owned()));
        }
        let problems = [
            (
                self.database.max_connections == 0,
                "database.max_connections must be > 0",
            ),
            (
                !(100..=60_000).contains(&self.database.acquire_timeout_ms),
                "database.acquire_timeout_ms must be 100 to 60000",
            ),
            (
                self.limits.max_body_bytes == 0,
                "limits.max_body_bytes must be > 0",
            ),
            (
                self.server.request_timeout_secs == 0
                    || self.server.request_timeout_secs > 3600
                    || self.server.shutdown_grace_secs > 3600,
                "server.request_timeout_secs must be 1-3600 and shutdown_grace_secs at most 3600",
            ),
            (
                self.server.max_concurrent_requests == 0 || self.server.max_header_bytes < 1024,
                "server.max_concurrent_requests must be > 0 and max_header_bytes at least 1024",
            ),
        ];
        if let Some((_, message)) = problems.iter().find(|(bad, _)| *bad) {
            return Err(ConfigError::Invalid((*message).to_owned()));
        }
        let url = self.database.url.trim();
        let postgres = crate::ssr::db::Engine::of_url(url) == crate::ssr::db::Engine::Postgres;
        if !(url.is_empty() || url.starts_with("sqlite:") || postgres) {
            return Err(ConfigError::Invalid(
                "database.url must be empty (SQLite at database.path), sqlite://FILE or \
                 postgres://USER@HOST:PORT/DATABASE"
                    .to_owned(),
            ));
        }
        if !postgres {
            crate::ssr::db::sqlite_options(url, &self.database.path)
                .map_err(ConfigError::Invalid)?;
        }
        if self.tls.enabled() == self.tls.key_path.as_os_str().is_empty() {
            return Err(ConfigError::Invalid(
                "tls.cert_path and tls.key_path go together (both empty: TLS off)".to_owned(),
            ));
        }
        let redirect_addr = match self.tls.redirect_addr.trim() {
            "" => None,
            _ if !self.tls.enabled() => {
                return Err(ConfigError::Invalid(
                    "tls.redirect_addr needs TLS on (tls.cert_path)".to_owned(),
                ))
            }
            text => Some(
                text.parse::<std::net::SocketAddr>()
                    .map_err(|e| ConfigError::Invalid(format!("tls.redirect_addr: {e}")))?,
            ),
        };
        let trusted_proxies = crate::ssr::http::proxy::parse_trusted(&self.proxy.trusted)
            .map_err(|why| ConfigError::Invalid(format!("proxy.trusted: {why}")))?;
        if let Some(message) = self.alerts.problem().or(self.audit.problem()) {
            return Err(ConfigError::Invalid(message.to_owned()));
        }
        if self.webauthn.challenge_timeout_secs == 0
            || self.webauthn.challenge_timeout_secs > MAX_DURATION_SECS
        {
            return Err(ConfigError::Invalid(
                "webauthn.challenge_timeout_secs must be 1 to 31536000".to_owned(),
            ));
        }
        let relying_party =
            crate::ssr::passkeys::relying_party::RelyingParty::from_settings(&self.webauthn)
                .map_err(|why| ConfigError::Invalid(format!("[webauthn]: {why}")))?;
        Ok(Parsed {
            redirect_addr,
            trusted_proxies,
            relying_party,
        })
    }

    /// Settings that work but that a person should know about; start-up
    /// logs each as a warning.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.session.warn_before_secs < WCAG_MIN_RESPONSE_SECS {
            warnings.push(format!(
                "session.warn_before_secs = {} is below {WCAG_MIN_RESPONSE_SECS} s: WCAG 2.2.1 \
                 gives a person at least 20 s to ask for more time (fine for tests only)",
                self.session.warn_before_secs
            ));
        }
        if let Ok(trusted) = crate::ssr::http::proxy::parse_trusted(&self.proxy.trusted) {
            for network in trusted.iter().filter(|n| n.is_broad()) {
                warnings.push(format!(
                    "proxy.trusted lists {network}: every address in it may name any client \
                     in X-Forwarded-For; list the proxies themselves"
                ));
            }
        }
        warnings
    }
}

pub use crate::ssr::clock::MAX_DURATION_SECS;

/// WCAG 2.2.1 (Timing Adjustable): at least 20 seconds to respond.
pub const WCAG_MIN_RESPONSE_SECS: u64 = 20;

/// An environment value takes the type of the setting it overrides.
fn parse_env_value(raw: &str, current: &toml::Value) -> Result<toml::Value, String> {
    let raw = raw.trim();
    Ok(match current {
        toml::Value::Integer(_) => toml::Value::Integer(
            raw.parse()
                .map_err(|_| format!("expected a whole number, got {raw:?}"))?,
        ),
        toml::Value::Boolean(_) => toml::Value::Boolean(
            raw.parse()
                .map_err(|_| format!("expected true or false, got {raw:?}"))?,
        ),
        _ => toml::Value::String(raw.to_owned()),
    })
}

#[cfg(test)]
mod tests;
