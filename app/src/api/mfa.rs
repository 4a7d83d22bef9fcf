//! Two-step verification and step-up (issue 10). Every function is a plain
//! form post that works without JavaScript: success redirects to the page
//! that shows the result; errors go back to the form (Leptos puts them in
//! the URL, and the page shows them).

use crate::shared::*;
use leptos::prelude::*;

/// `POST /api/verify_code` with `code` and `method`: the second step of a
/// sign-in.
#[server(endpoint = "verify_code")]
pub async fn verify_code(code: Secret, method: Option<SecondFactorMethod>) -> Result<(), AppError> {
    use crate::ssr::context::RequestContext;

    let ctx = RequestContext::get()?;
    let (next, remaining) =
        crate::ssr::mfa::sign_in::complete_sign_in(&ctx, method.unwrap_or_default(), code.expose())
            .await?;
    let next = match remaining {
        // Say how many recovery codes are left (and suggest new ones).
        Some(left) => format!("/account/security?codes_left={left}"),
        None => next,
    };
    leptos_axum::redirect(&next);
    Ok(())
}

/// `POST /api/step_up` with `secret` (a code, or the password for a user
/// without MFA), `method`, and `next` (where a plain form post returns).
#[server(endpoint = "step_up")]
pub async fn step_up(
    secret: Secret,
    method: Option<SecondFactorMethod>,
    next: Option<String>,
) -> Result<(), AppError> {
    use crate::ssr::context::RequestContext;
    use crate::urls::safe_next;

    let ctx = RequestContext::get()?;
    let remaining =
        crate::ssr::mfa::step_up::step_up(&ctx, method.unwrap_or_default(), secret.expose())
            .await?;
    if ctx.is_plain_form_post() {
        let mut next = safe_next(next.as_deref().or(Some("/account/security")));
        if let Some(left) = remaining {
            next = format!("/account/security?codes_left={left}");
        }
        leptos_axum::redirect(&next);
    }
    Ok(())
}

/// `POST /api/mfa_begin`: starts turning on two-step verification.
#[server(endpoint = "mfa_begin")]
pub async fn mfa_begin() -> Result<(), AppError> {
    use crate::ssr::context::RequestContext;
    let ctx = RequestContext::get()?;
    crate::ssr::mfa::enrolment::begin_enrolment(&ctx).await?;
    leptos_axum::redirect("/account/security");
    Ok(())
}

/// `POST /api/mfa_confirm` with `code` from the authenticator app.
#[server(endpoint = "mfa_confirm")]
pub async fn mfa_confirm(code: Secret) -> Result<(), AppError> {
    use crate::ssr::context::RequestContext;
    let ctx = RequestContext::get()?;
    let result = crate::ssr::mfa::enrolment::confirm_enrolment(&ctx, code.expose()).await;
    ctx.audit_result(
        crate::ssr::audit::Event::MfaEnabled,
        None,
        &result,
        serde_json::json!({}),
    )
    .await;
    result?;
    leptos_axum::redirect("/account/security");
    Ok(())
}

/// `POST /api/mfa_cancel`: abandons an enrolment; nothing was enabled.
#[server(endpoint = "mfa_cancel")]
pub async fn mfa_cancel() -> Result<(), AppError> {
    use crate::ssr::context::RequestContext;
    let ctx = RequestContext::get()?;
    crate::ssr::mfa::enrolment::cancel_enrolment(&ctx).await?;
    leptos_axum::redirect("/account/security");
    Ok(())
}

/// `POST /api/recovery_codes_saved`: "I have saved them".
#[server(endpoint = "recovery_codes_saved")]
pub async fn recovery_codes_saved() -> Result<(), AppError> {
    use crate::ssr::context::RequestContext;
    let ctx = RequestContext::get()?;
    crate::ssr::mfa::enrolment::recovery_codes_saved(&ctx).await?;
    leptos_axum::redirect("/account/security");
    Ok(())
}

/// `POST /api/recovery_codes_renew`: sensitive (step-up).
#[server(endpoint = "recovery_codes_renew")]
pub async fn recovery_codes_renew() -> Result<(), AppError> {
    use crate::ssr::context::RequestContext;
    let ctx = RequestContext::get()?;
    crate::ssr::mfa::enrolment::regenerate_recovery_codes(&ctx).await?;
    leptos_axum::redirect("/account/security");
    Ok(())
}

/// `POST /api/mfa_disable`: sensitive (step-up).
#[server(endpoint = "mfa_disable")]
pub async fn mfa_disable() -> Result<(), AppError> {
    use crate::ssr::context::RequestContext;
    let ctx = RequestContext::get()?;
    let result = crate::ssr::mfa::enrolment::disable(&ctx).await;
    ctx.audit_result(
        crate::ssr::audit::Event::MfaDisabled,
        None,
        &result,
        serde_json::json!({}),
    )
    .await;
    result?;
    leptos_axum::redirect("/account/security?mfa=off");
    Ok(())
}

/// `POST /api/change_password` with `password` and `password_confirm`:
/// sensitive (step-up). Every other session of the user ends; this one
/// moves to a new ID.
#[server(endpoint = "change_password")]
pub async fn change_password(password: Secret, password_confirm: Secret) -> Result<(), AppError> {
    use crate::ssr::auth::accounts;
    use crate::ssr::auth::password::Password;
    use crate::ssr::context::RequestContext;
    let ctx = RequestContext::get()?;
    let user = crate::ssr::mfa::step_up::require_step_up(&ctx)?;
    let result = accounts::change_password(
        &ctx.state,
        user.user_id,
        &user.username,
        Password::new(password.into_inner()),
        Password::new(password_confirm.into_inner()),
        ctx.client_gone(),
    )
    .await;
    ctx.audit_result(
        crate::ssr::audit::Event::PasswordChanged,
        Some(user.user_id),
        &result,
        serde_json::json!({}),
    )
    .await;
    result?;
    crate::ssr::auth::credential_change::end_other_sessions(&ctx, user).await?;
    leptos_axum::redirect("/account/security?password=changed");
    Ok(())
}

/// `POST /api/delete_account` with `confirm_username`: sensitive
/// (step-up). The account, its data and all its sessions are gone.
#[server(endpoint = "delete_account")]
pub async fn delete_account(confirm_username: String) -> Result<(), AppError> {
    use crate::ssr::auth::accounts;
    use crate::ssr::context::RequestContext;
    use crate::ssr::error::internal;
    let ctx = RequestContext::get()?;
    let user = crate::ssr::mfa::step_up::require_step_up(&ctx)?;
    if confirm_username.trim() != user.username {
        return Err(AppError::Invalid(
            "Type your username exactly to confirm.".to_owned(),
        ));
    }
    let result = accounts::delete_account(&ctx.state, user.user_id).await;
    ctx.audit_result(
        crate::ssr::audit::Event::AccountDeleted,
        Some(user.user_id),
        &result,
        serde_json::json!({}),
    )
    .await;
    result?;
    ctx.auth_session()?.log_out().await.map_err(internal)?;
    leptos_axum::redirect("/?account=deleted");
    Ok(())
}
