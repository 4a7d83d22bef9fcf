//! `[audit]` (retention) and `[alerts]` (thresholds, the webhook), and what
//! makes a valid set of them.

use serde::{Deserialize, Serialize};

use crate::ssr::clock::MAX_DURATION_SECS;

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
    /// Wrong second-factor codes (sign-in and step-up) for one account:
    /// someone who knows the password is guessing the code.
    pub failed_codes_per_account: u32,
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
            failed_codes_per_account: 5,
            webhook_url: String::new(),
        }
    }
}

impl AuditSettings {
    /// The first problem with these settings, if any.
    pub fn problem(&self) -> Option<&'static str> {
        (self.retention_days == 0 || self.retention_days > 3650)
            .then_some("audit.retention_days must be 1 to 3650")
    }
}

impl AlertSettings {
    /// The first problem with these settings, if any.
    pub fn problem(&self) -> Option<&'static str> {
        if self.window_secs == 0
            || self.window_secs > MAX_DURATION_SECS
            || self.failed_sign_ins_per_account == 0
            || self.failed_sign_ins_per_address == 0
            || self.session_churn_per_user == 0
            || self.failures_before_success == 0
            || self.failed_codes_per_account == 0
        {
            return Some("alerts.window_secs must be 1 to 31536000 and every alerts threshold > 0");
        }
        let webhook = self.webhook_url.trim();
        let webhook_ok =
            webhook.is_empty() || webhook.starts_with("https://") || webhook.starts_with("http://");
        (!webhook_ok).then_some("alerts.webhook_url must be an http:// or https:// URL, or empty")
    }
}
