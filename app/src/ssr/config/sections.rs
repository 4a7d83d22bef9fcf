//! One struct per section of `Leptos.toml`, each field with its unit and
//! its default. (`[database]` and `[webauthn]` live beside their code:
//! `ssr::db`, `ssr::passkeys::relying_party`.)

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

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
