//! The server's own sections of `Leptos.toml` (listeners, TLS, limits,
//! proxies, logs), each field with its unit and its default. The sections
//! of a concern live beside its code, with their checks: `session::settings`,
//! `auth::settings`, `mfa::settings`, `tokens::settings`, `audit::settings`,
//! `db` (`[database]`), `passkeys::relying_party` (`[webauthn]`).

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

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
