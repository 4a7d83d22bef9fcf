//! What the account page shows.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::AppError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    pub username: String,
    /// Times are formatted on the server (UTC) so that the server-rendered
    /// page and the hydrated one agree.
    pub session_started: String,
    pub idle_expires: String,
    pub absolute_expires: String,
    /// "30 minutes", "8 hours": the limits, stated up front (WCAG 2.2.6).
    pub idle_timeout: String,
    pub absolute_timeout: String,
    pub display_name: String,
    pub about: String,
    /// While a step-up holds ("sudo mode"): until when (UTC).
    pub stepped_up_until: Option<String>,
    /// A sign-in from a browser and system not used before, until
    /// dismissed (issue 12).
    pub device_notice: Option<String>,
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

/// The signed-in user's account and session times.
#[server(endpoint = "account")]
pub async fn get_account() -> Result<AccountView, AppError> {
    use crate::ssr::context::RequestContext;
    use crate::ssr::page_data::account_of;

    let ctx = RequestContext::get()?;
    let user = ctx.require_user()?;
    Ok(account_of(&ctx.state, user))
}

/// `POST /api/dismiss_device_notice`: "I have seen it" for the new-device
/// notice on the account page.
#[server(endpoint = "dismiss_device_notice")]
pub async fn dismiss_device_notice() -> Result<(), AppError> {
    use crate::ssr::audit::alerts;
    use crate::ssr::context::RequestContext;
    use crate::ssr::error::internal;

    let ctx = RequestContext::get()?;
    let user = ctx.require_user()?;
    alerts::set_device_notice(&ctx.state, user.user_id, None)
        .await
        .map_err(internal)?;
    leptos_axum::redirect("/account");
    Ok(())
}

/// The signed-in user's name, or `None`: for the header of every page.
#[server(endpoint = "whoami")]
pub async fn current_username() -> Result<Option<String>, AppError> {
    use crate::ssr::context::RequestContext;

    Ok(RequestContext::get()?
        .current_user()
        .map(|u| u.username.clone()))
}

/// `POST /api/profile` with `display_name` and `about`.
#[server(endpoint = "profile")]
pub async fn save_profile(display_name: String, about: String) -> Result<(), AppError> {
    use crate::ssr::account::profile;
    use crate::ssr::context::RequestContext;

    let ctx = RequestContext::get()?;
    let user = ctx.require_user()?;
    let checked = profile::validate(&display_name, &about).map_err(AppError::Invalid)?;
    profile::save(&ctx.state, user.user_id, &checked).await
}
