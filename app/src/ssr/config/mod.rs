//! Typed runtime settings: defaults in code and in `Leptos.toml`, then
//! `TESSERA_<SECTION>_<KEY>` environment variables on top.
//!
//! Precedence, lowest first: `Settings::default()`, the file, the environment.
//! An unknown key or a value of the wrong type is an error at start-up, never
//! a silently ignored setting.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

// Sections whose struct lives beside the code that uses it.
pub use crate::ssr::db::DatabaseSettings;
pub use crate::ssr::passkeys::relying_party::WebauthnSettings;

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
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SameSitePolicy {
    Strict,
    Lax,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SessionSettings {
    /// Seconds of inactivity after which a session ends (ASVS 7.3.1).
    pub idle_timeout_secs: u64,
    /// Seconds after sign-in after which a session ends whatever the activity (ASVS 7.3.2).
    pub absolute_timeout_secs: u64,
    /// Minimum seconds between two writes of an unchanged session.
    pub touch_interval_secs: u64,
    pub same_site: SameSitePolicy,
    /// 0 = unlimited concurrent sessions per user.
    pub max_per_user: u32,
    pub cleanup_interval_secs: u64,
    pub cleanup_batch_size: u32,
    /// Seconds before the idle deadline at which the browser warns.
    pub warn_before_secs: u64,
    /// Live sessions kept in memory (0 = read every request's session from
    /// the database). Only for one server owning its SQLite file.
    pub cache_max_entries: u32,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            idle_timeout_secs: 30 * 60,
            absolute_timeout_secs: 8 * 60 * 60,
            touch_interval_secs: 60,
            same_site: SameSitePolicy::Strict,
            max_per_user: 0,
            cleanup_interval_secs: 300,
            cleanup_batch_size: 500,
            warn_before_secs: 120,
            cache_max_entries: 100_000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordSettings {
    /// Concurrent argon2 computations (each needs 19 MiB of memory).
    pub hash_concurrency: u32,
    /// CPU priority of the hashing threads: a nice value, 0 (normal) to 19
    /// (lowest). Higher keeps page requests fast during a sign-in storm at
    /// the cost of slower sign-ins while pages are busy.
    pub hash_thread_nice: i32,
    pub min_length: u32,
    pub max_length: u32,
    /// zxcvbn score from 0 to 4 that a new password must reach.
    pub min_strength: u8,
    /// Requests that may wait for a hashing slot at once; beyond it, 503.
    pub hash_queue_max: u32,
    /// Seconds a request may wait for a hashing slot before it gets 503.
    pub hash_queue_timeout_secs: u64,
}

impl Default for PasswordSettings {
    fn default() -> Self {
        Self {
            hash_concurrency: 2,
            hash_thread_nice: 10,
            min_length: 8,
            max_length: 128,
            min_strength: 3,
            hash_queue_max: 64,
            hash_queue_timeout_secs: 10,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LoginSettings {
    /// Per account and address: past it, each attempt waits a doubling
    /// delay (1 s, 2 s ... 15 min).
    pub max_failures_per_account: u32,
    pub max_failures_per_address: u32,
    /// Per account from all addresses but those it signed in from before.
    pub max_failures_per_account_everywhere: u32,
    /// Registrations per address per window (each costs an argon2 run).
    pub max_registrations_per_address: u32,
    pub failure_window_secs: u64,
}

impl Default for LoginSettings {
    fn default() -> Self {
        Self {
            max_failures_per_account: 10,
            max_failures_per_address: 50,
            max_failures_per_account_everywhere: 100,
            max_registrations_per_address: 20,
            failure_window_secs: 900,
        }
    }
}

/// Built-in TLS (issue 13). Off while `cert_path` is empty.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TlsSettings {
    /// PEM certificate chain; re-read on SIGHUP.
    pub cert_path: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1); re-read on SIGHUP.
    pub key_path: PathBuf,
    /// Create a self-signed certificate for localhost, 127.0.0.1 and ::1
    /// at the paths above when they do not exist (`make run-tls`; never
    /// for a real deployment).
    pub self_signed: bool,
    /// A plain-HTTP listener that only redirects (308) to HTTPS; empty for
    /// none.
    pub redirect_addr: String,
}

impl TlsSettings {
    pub fn enabled(&self) -> bool {
        !self.cert_path.as_os_str().is_empty()
    }
}

/// The listener's own limits and its shutdown (issue 13).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// After SIGTERM or SIGINT: how long requests in flight may take to
    /// finish before the server stops anyway (a second signal stops it at
    /// once).
    pub shutdown_grace_secs: u64,
    /// A request (headers and body) that takes longer is answered 408 and
    /// its connection closed: a client trickling bytes (slow loris) cannot
    /// hold a connection open.
    pub request_timeout_secs: u64,
    /// Requests handled at once; beyond it 503 with `Retry-After` at once,
    /// not an ever-growing queue.
    pub max_concurrent_requests: u32,
    /// Request headers larger than this in total are refused (431).
    pub max_header_bytes: usize,
    /// Open connections from one IP address (trusted proxies exempt);
    /// more are closed at once. 0 = no limit.
    pub max_connections_per_ip: u32,
    /// Non-empty: every response carries `X-Tessera-Instance: <this>`, so
    /// that the cluster tests see which server answered. Empty in
    /// production (clients need not know the topology).
    pub instance_header: String,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            shutdown_grace_secs: 10,
            request_timeout_secs: 30,
            max_concurrent_requests: 1024,
            max_header_bytes: 16 * 1024,
            max_connections_per_ip: 256,
            instance_header: String::new(),
        }
    }
}

/// Access tokens for API clients (issue 14): JWTs signed with Ed25519 keys
/// kept in `key_dir` (`server jwt rotate` adds one).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct JwtSettings {
    /// One PKCS#8 PEM file per key, named `<kid>.pem`; the newest signs,
    /// older ones are published until their last token has expired.
    pub key_dir: PathBuf,
    /// Create a first key at start-up when `key_dir` has none (`make run`
    /// and the tests; a deployment runs `server jwt rotate` instead).
    pub create_key_if_missing: bool,
    /// Lifetime of an access token. Short: a resource server that cannot
    /// reach the session store accepts a token until it expires.
    pub ttl_secs: u64,
    /// `iss` and `aud`, compared exactly.
    pub issuer: String,
    pub audience: String,
    /// Clock skew allowed on `exp`, `nbf` and `iat` (at most 30 s).
    pub leeway_secs: u64,
    /// How often `key_dir` is read again, so that a key added by
    /// `server jwt rotate` on any machine is used and accepted everywhere
    /// (0: on every use, for tests).
    pub reload_secs: u64,
}

impl Default for JwtSettings {
    fn default() -> Self {
        Self {
            key_dir: PathBuf::from("data/jwt"),
            create_key_if_missing: false,
            ttl_secs: 300,
            issuer: "tessera".to_owned(),
            audience: "tessera-api".to_owned(),
            leeway_secs: 30,
            reload_secs: 10,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    pub max_body_bytes: usize,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 16 * 1024,
        }
    }
}

/// Who must have two-step verification (the seed: high-risk apps require
/// MFA at sign-in).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MfaRequirement {
    None,
    Admins,
    All,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MfaSettings {
    /// A user who must have MFA and has none is sent to enrolment right
    /// after the password, on a session that grants nothing else.
    pub require: MfaRequirement,
    /// 64 hex digits (32 bytes) that seal TOTP secrets at rest. Without it
    /// two-step verification cannot be turned on; with MFA data in the
    /// database and no key, the server refuses to start.
    pub key_file: PathBuf,
    /// How long a step-up (re-authentication) allows sensitive actions.
    pub step_up_window_secs: u64,
    /// Wrong codes per account, across all its sign-in attempts, before
    /// codes are refused for the rest of `failure_window_secs`.
    pub max_failures_per_account: u32,
    pub failure_window_secs: u64,
    /// A sign-in waiting for its second factor ends after this long...
    pub pending_timeout_secs: u64,
    /// ...or after this many wrong codes.
    pub max_codes_per_sign_in: u32,
}

impl Default for MfaSettings {
    fn default() -> Self {
        Self {
            require: MfaRequirement::Admins,
            key_file: PathBuf::from("data/mfa.key"),
            step_up_window_secs: 600,
            max_failures_per_account: 10,
            failure_window_secs: 900,
            pending_timeout_secs: 300,
            max_codes_per_sign_in: 5,
        }
    }
}

/// The audit log (issue 12).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuditSettings {
    /// Events older than this are deleted by the clean-up task.
    pub retention_days: u64,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self { retention_days: 90 }
    }
}

/// Reverse proxies in front of the server.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ProxySettings {
    /// Comma-separated addresses or networks (`10.0.0.0/8`, `::1`) whose
    /// `X-Forwarded-For` is believed. Empty: the socket's peer is the
    /// client, and the header is ignored.
    pub trusted: String,
}

/// How log lines look.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// For people (the default).
    #[default]
    Text,
    /// One JSON object per line, for a log shipper.
    Json,
}

/// When alerts are raised (issue 12). Defaults follow the OWASP
/// Authentication Cheat Sheet's advice to alert on many failures, not on
/// each one; every count is within `window_secs`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AlertSettings {
    pub window_secs: u64,
    /// Failed sign-ins for one account.
    pub failed_sign_ins_per_account: u32,
    /// Failed sign-ins from one address.
    pub failed_sign_ins_per_address: u32,
    /// Sign-ins and sign-outs of one user (sessions made and ended fast).
    pub session_churn_per_user: u32,
    /// Failed sign-ins since the last success before one that succeeds.
    pub failures_before_success: u32,
    /// When set (`https://…`, or `http://` to a local receiver), each alert
    /// is also POSTed there as JSON, from a bounded queue that never holds
    /// up a request, with retries.
    pub webhook_url: String,
}

impl Default for AlertSettings {
    fn default() -> Self {
        Self {
            window_secs: 300,
            failed_sign_ins_per_account: 10,
            failed_sign_ins_per_address: 20,
            session_churn_per_user: 20,
            failures_before_success: 5,
            webhook_url: String::new(),
        }
    }
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
        let s = &self.session;
        let p = &self.password;
        let too_long = |secs: u64| secs > MAX_DURATION_SECS;
        let problems = [
            (
                s.idle_timeout_secs == 0,
                "session.idle_timeout_secs must be > 0",
            ),
            (
                too_long(s.idle_timeout_secs) || too_long(s.absolute_timeout_secs),
                "session.idle_timeout_secs and absolute_timeout_secs must be at most \
                 31536000 (one year)",
            ),
            (
                s.absolute_timeout_secs < s.idle_timeout_secs,
                "session.absolute_timeout_secs must be >= idle_timeout_secs",
            ),
            (
                s.touch_interval_secs >= s.idle_timeout_secs,
                "session.touch_interval_secs must be < idle_timeout_secs",
            ),
            (
                s.warn_before_secs >= s.idle_timeout_secs,
                "session.warn_before_secs must be < idle_timeout_secs (the warning \
                 would come before the session starts)",
            ),
            (
                s.cleanup_interval_secs == 0 || too_long(s.cleanup_interval_secs),
                "session.cleanup_interval_secs must be 1 to 31536000",
            ),
            (
                s.cleanup_batch_size == 0,
                "session.cleanup_batch_size must be > 0",
            ),
            (
                p.hash_concurrency == 0,
                "password.hash_concurrency must be > 0",
            ),
            (
                !(0..=19).contains(&p.hash_thread_nice),
                "password.hash_thread_nice is 0 to 19",
            ),
            (
                p.min_length < 8 || p.max_length < 64,
                "password lengths: min_length >= 8 and max_length >= 64 (ASVS 6.2.1, 6.2.9)",
            ),
            (p.min_strength > 4, "password.min_strength is 0 to 4"),
            (p.hash_queue_max == 0, "password.hash_queue_max must be > 0"),
            (
                p.hash_queue_timeout_secs == 0 || p.hash_queue_timeout_secs > 3600,
                "password.hash_queue_timeout_secs must be 1 to 3600",
            ),
            (
                self.login.failure_window_secs == 0 || too_long(self.login.failure_window_secs),
                "login.failure_window_secs must be 1 to 31536000",
            ),
            (
                self.login.max_failures_per_account == 0
                    || self.login.max_failures_per_address == 0
                    || self.login.max_failures_per_account_everywhere == 0
                    || self.login.max_registrations_per_address == 0,
                "login.max_failures_per_account, max_failures_per_address, \
                 max_failures_per_account_everywhere and max_registrations_per_address must be > 0",
            ),
            (
                self.mfa.step_up_window_secs == 0 || too_long(self.mfa.step_up_window_secs),
                "mfa.step_up_window_secs must be 1 to 31536000",
            ),
            (
                self.mfa.failure_window_secs == 0 || too_long(self.mfa.failure_window_secs),
                "mfa.failure_window_secs must be 1 to 31536000",
            ),
            (
                self.mfa.pending_timeout_secs == 0 || too_long(self.mfa.pending_timeout_secs),
                "mfa.pending_timeout_secs must be 1 to 31536000",
            ),
            (
                self.mfa.max_failures_per_account == 0 || self.mfa.max_codes_per_sign_in == 0,
                "mfa.max_failures_per_account and max_codes_per_sign_in must be > 0",
            ),
            (
                self.database.max_connections == 0,
                "database.max_connections must be > 0",
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
            (
                self.jwt.ttl_secs == 0 || self.jwt.ttl_secs > 86_400,
                "jwt.ttl_secs must be 1 to 86400 (access tokens are short-lived)",
            ),
            (
                self.jwt.leeway_secs > 30,
                "jwt.leeway_secs must be at most 30",
            ),
            (
                self.jwt.issuer.trim().is_empty() || self.jwt.audience.trim().is_empty(),
                "jwt.issuer and jwt.audience must not be empty",
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
        let alerts = &self.alerts;
        if alerts.window_secs == 0
            || too_long(alerts.window_secs)
            || alerts.failed_sign_ins_per_account == 0
            || alerts.failed_sign_ins_per_address == 0
            || alerts.session_churn_per_user == 0
            || alerts.failures_before_success == 0
        {
            return Err(ConfigError::Invalid(
                "alerts.window_secs must be 1 to 31536000 and every alerts threshold > 0"
                    .to_owned(),
            ));
        }
        let webhook = alerts.webhook_url.trim();
        let webhook_ok =
            webhook.is_empty() || webhook.starts_with("https://") || webhook.starts_with("http://");
        if !webhook_ok {
            return Err(ConfigError::Invalid(
                "alerts.webhook_url must be an http:// or https:// URL, or empty".to_owned(),
            ));
        }
        if self.audit.retention_days == 0 || self.audit.retention_days > 3650 {
            return Err(ConfigError::Invalid(
                "audit.retention_days must be 1 to 3650".to_owned(),
            ));
        }
        if self.webauthn.challenge_timeout_secs == 0
            || too_long(self.webauthn.challenge_timeout_secs)
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
        warnings
    }
}

/// The longest timeout or window a setting may have: one year. Longer ones
/// are mistakes, and beyond about 10^11 s the deadlines no longer fit the
/// date types the cookie and the database use.
pub const MAX_DURATION_SECS: u64 = 365 * 24 * 3600;

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
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn the_shipped_leptos_toml_matches_the_defaults_in_code() {
        let file = include_str!("../../../../Leptos.toml");
        let settings = Settings::from_sources(Some(file), no_env).expect("Leptos.toml parses");
        assert_eq!(settings, Settings::default());
    }

    /// docs/configuration.md's table names every setting, with its
    /// environment variable and its default as the code has them: a setting
    /// missing from the table, or a row naming no setting, fails.
    #[test]
    fn the_settings_table_in_the_docs_matches_the_code() {
        let table = include_str!("../../../../docs/configuration.md");
        let defaults = serde_json::to_value(Settings::default()).expect("settings serialise");
        let mut in_code = std::collections::BTreeSet::new();
        for (section, keys) in defaults.as_object().expect("sections") {
            for key in keys.as_object().expect("keys").keys() {
                in_code.insert(format!("{section}.{key}"));
            }
        }
        let ticked = |cell: &str| -> Vec<String> {
            cell.split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect()
        };
        let mut in_table = std::collections::BTreeSet::new();
        for row in table.lines().filter(|l| l.starts_with("| `[")) {
            let cells: Vec<&str> = row.split(" | ").collect();
            assert!(cells.len() >= 4, "{row}");
            let names = ticked(cells[0]);
            let section = names[0]
                .strip_prefix('[')
                .and_then(|n| n.split_once(']'))
                .map(|(section, _)| section.to_owned())
                .unwrap_or_else(|| panic!("a [section] in {row}"));
            let keys: Vec<String> = names
                .iter()
                .map(|n| n.rsplit(' ').next().unwrap_or(n).to_owned())
                .collect();
            let variables = ticked(cells[1]);
            assert_eq!(variables.len(), keys.len(), "{row}");
            for (key, variable) in keys.iter().zip(&variables) {
                let name = format!("{section}.{key}");
                assert!(in_code.contains(&name), "a row for no setting: {name}");
                assert!(in_table.insert(name.clone()), "two rows for {name}");
                assert_eq!(
                    variable,
                    &format!("TESSERA_{}_{}", section, key).to_uppercase(),
                    "{name}"
                );
                // The default: a `value`, or "(empty…)" for an empty one.
                let code = &defaults[&section][key];
                let code = match code {
                    serde_json::Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                let shown = ticked(cells[2]);
                if cells[2].trim_start().starts_with("(empty") {
                    assert_eq!(code, "", "{name}: the table says empty");
                } else if shown.len() == keys.len() {
                    let index = keys.iter().position(|k| k == key).unwrap_or(0);
                    assert_eq!(shown[index], code, "{name}: the table's default");
                } else {
                    panic!("{name}: no default in the table");
                }
            }
        }
        let missing: Vec<_> = in_code.difference(&in_table).collect();
        assert!(
            missing.is_empty(),
            "settings missing from the table: {missing:?}"
        );
    }

    #[test]
    fn environment_overrides_the_file() {
        let file = "[session]\nidle_timeout_secs = 100\nwarn_before_secs = 30\n";
        let env =
            |name: &str| (name == "TESSERA_SESSION_IDLE_TIMEOUT_SECS").then(|| "90".to_owned());
        let settings = Settings::from_sources(Some(file), env).expect("valid");
        assert_eq!(settings.session.idle_timeout_secs, 90);
    }

    #[test]
    fn file_overrides_the_defaults_and_same_site_can_be_lax() {
        let file = "[session]\nsame_site = \"lax\"\nmax_per_user = 3\n";
        let settings = Settings::from_sources(Some(file), no_env).expect("valid");
        assert_eq!(settings.session.same_site, SameSitePolicy::Lax);
        assert_eq!(settings.session.max_per_user, 3);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        assert!(Settings::from_sources(Some("[session]\nidle = 1\n"), no_env).is_err());
        assert!(Settings::from_sources(Some("[sesion]\n"), no_env).is_err());
        let env =
            |name: &str| (name == "TESSERA_SESSION_IDLE_TIMEOUT_SECS").then(|| "soon".to_owned());
        assert!(Settings::from_sources(None, env).is_err());
        assert!(Settings::from_sources(Some("[session]\nsame_site = \"none\"\n"), no_env).is_err());
    }

    #[test]
    fn each_setting_the_server_cannot_honour_is_refused_with_its_name() {
        let cases = [
            (
                "[session]\nidle_timeout_secs = 600\nwarn_before_secs = 600\n",
                "warn_before_secs",
            ),
            (
                "[session]\nidle_timeout_secs = 31536001\nabsolute_timeout_secs = 31536001\n",
                "idle_timeout_secs",
            ),
            (
                "[session]\nabsolute_timeout_secs = 9223372036854775807\n",
                "absolute_timeout_secs",
            ),
            (
                "[session]\ncleanup_interval_secs = 0\n",
                "cleanup_interval_secs",
            ),
            (
                "[session]\ncleanup_interval_secs = 18446744073709551615\n",
                "cleanup_interval_secs",
            ),
            ("[password]\nhash_queue_max = 0\n", "hash_queue_max"),
            (
                "[password]\nhash_queue_timeout_secs = 0\n",
                "hash_queue_timeout_secs",
            ),
            ("[login]\nfailure_window_secs = 0\n", "failure_window_secs"),
            (
                "[login]\nmax_failures_per_account = 0\n",
                "max_failures_per_account",
            ),
            ("[limits]\nmax_body_bytes = 0\n", "max_body_bytes"),
            ("[audit]\nretention_days = 0\n", "retention_days"),
            ("[alerts]\nwindow_secs = 0\n", "window_secs"),
            (
                "[alerts]\nwebhook_url = \"ftp://example.com\"\n",
                "webhook_url",
            ),
            ("[webauthn]\nrp_id = \"127.0.0.1\"\n", "IP address"),
            // Issue 14: at most 30 s of clock skew on tokens; a lifetime is
            // short; only the two engines.
            ("[jwt]\nleeway_secs = 31\n", "leeway_secs"),
            ("[jwt]\nttl_secs = 86401\n", "ttl_secs"),
            ("[jwt]\naudience = \" \"\n", "audience"),
            ("[database]\nurl = \"mysql://x/y\"\n", "database.url"),
            // sqlx's URL form: its options are applied, or refused by name.
            (
                "[database]\nurl = \"sqlite://x.db?mode=memory\"\n",
                "in-memory",
            ),
            ("[database]\nurl = \"sqlite://x.db?mode=ro\"\n", "mode=ro"),
            (
                "[database]\nurl = \"sqlite://x.db?mode=rwx\"\n",
                "database.url",
            ),
            ("[database]\nurl = \"sqlite://x.db?journal=1\"\n", "journal"),
            (
                "[database]\nurl = \"sqlite://?mode=rwc\"\n",
                "names no file",
            ),
        ];
        for (file, name) in cases {
            let error = Settings::from_sources(Some(file), no_env)
                .expect_err(file)
                .to_string();
            assert!(error.contains(name), "{file}: {error}");
        }
    }

    #[test]
    fn logs_are_text_or_json() {
        let json =
            Settings::from_sources(Some("[log]\nformat = \"json\"\n"), no_env).expect("json");
        assert_eq!(json.log.format, LogFormat::Json);
        assert_eq!(Settings::default().log.format, LogFormat::Text);
        assert!(Settings::from_sources(Some("[log]\nformat = \"xml\"\n"), no_env).is_err());
    }

    #[test]
    fn a_warning_below_wcag_s_20_seconds_is_allowed_but_reported() {
        let file =
            "[session]\nidle_timeout_secs = 30\ntouch_interval_secs = 5\nwarn_before_secs = 10\n";
        let settings = Settings::from_sources(Some(file), no_env).expect("allowed");
        let warnings = settings.warnings();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("warn_before_secs"), "{warnings:?}");
        assert!(Settings::default().warnings().is_empty());
    }

    #[test]
    fn an_absolute_timeout_shorter_than_the_idle_timeout_is_refused() {
        let file = "[session]\nidle_timeout_secs = 600\nabsolute_timeout_secs = 60\n";
        assert!(Settings::from_sources(Some(file), no_env).is_err());
    }
}
