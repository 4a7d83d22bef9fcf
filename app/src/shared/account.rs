//! The types of `api::account`'s server functions, shared with the pages
//! and the core (`crate::shared`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    pub username: String,
    /// Unix seconds: the page shows them as `<time>` in the reader's zone
    /// (`components::time`).
    pub session_started: i64,
    pub idle_expires: i64,
    pub absolute_expires: i64,
    /// "30 minutes", "8 hours": the limits, stated up front (WCAG 2.2.6).
    pub idle_timeout: String,
    pub absolute_timeout: String,
    pub display_name: String,
    pub about: String,
    /// While a step-up holds ("sudo mode"): until when (unix seconds).
    pub stepped_up_until: Option<i64>,
    /// A sign-in from a browser and system not used before, until
    /// dismissed (issue 12).
    pub device_notice: Option<DeviceNotice>,
}

/// "Firefox 128 on Windows 10 from 203.0.113.9", and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceNotice {
    pub what: String,
    /// Unix seconds; `None` for a notice stored before it was recorded
    /// apart (its text then says when).
    pub at: Option<i64>,
    /// A new device, or impossible travel (issue 25: its own words and
    /// buttons).
    #[serde(default)]
    pub kind: NoticeKind,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    #[default]
    NewDevice,
    /// "Signed in from Sydney, AU 40 minutes after London, GB".
    Travel,
}

/// Profile limits, shared by the form (maxlength) and the server's check.
pub const DISPLAY_NAME_MAX: usize = 64;

pub const ABOUT_MAX: usize = 2000;

/// The session policy in force, as the about page states it to visitors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyView {
    pub idle_timeout: String,
    pub absolute_timeout: String,
    pub warn_before: String,
    /// 0 = unlimited.
    pub max_per_user: u32,
    pub max_failures_per_account: u32,
    pub max_failures_per_address: u32,
    pub failure_window: String,
    pub password_min_length: u32,
}
