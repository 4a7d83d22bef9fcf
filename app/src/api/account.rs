//! What the account page shows.

use crate::shared::*;
use leptos::prelude::*;

/// The signed-in user's account and session times.
#[server(endpoint = "account")]
pub async fn get_account() -> Result<AccountView, AppError> {
    use crate::ssr::context::RequestContext;
    use crate::ssr::page_data::account_of;

    let ctx = RequestContext::get()?;
    let user = ctx.require_user()?;
    Ok(account_of(&ctx.state, user))
}

/// `POST /api/dismiss_device_notice`: "It was me" for the new-device or
/// impossible-travel notice on the account page. A session held after
/// impossible travel must step up first (`require_confirmed`): the
/// warning is not for whoever caused it to hide.
#[server(endpoint = "dismiss_device_notice")]
pub async fn dismiss_device_notice() -> Result<(), AppError> {
    use crate::ssr::audit::alerts;
    use crate::ssr::context::RequestContext;
    use crate::ssr::error::internal;

    let ctx = RequestContext::get()?;
    let user = crate::ssr::mfa::step_up::require_confirmed(&ctx)?;
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
    let user = crate::ssr::mfa::step_up::require_confirmed(&ctx)?;
    let checked = profile::validate(&display_name, &about).map_err(AppError::Invalid)?;
    profile::save(&ctx.state, user.user_id, &checked).await
}
