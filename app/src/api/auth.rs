//! Register, sign in, sign out.
//!
//! Plain HTML form posts (before hydration, or without JavaScript) get a
//! 302 redirect; calls from the hydrated client get the redirect as a
//! header and navigate client-side. The sign-in URL is `POST /api/login`.

use crate::shared::*;
use leptos::prelude::*;

/// `POST /api/register` with `username`, `password`, `password_confirm`.
#[server(endpoint = "register")]
pub async fn register(
    username: String,
    password: Secret,
    password_confirm: Secret,
) -> Result<(), AppError> {
    use crate::ssr::audit::Event;
    use crate::ssr::audit::Outcome;
    use crate::ssr::auth::accounts;
    use crate::ssr::auth::password::Password;
    use crate::ssr::context::RequestContext;

    let ctx = RequestContext::get()?;
    let result = accounts::register(
        &ctx.state,
        &ctx.address(),
        &username,
        Password::new(password.into_inner()),
        Password::new(password_confirm.into_inner()),
        ctx.client_gone(),
    )
    .await;
    let (outcome, details) = match &result {
        Ok(()) => (Outcome::Success, serde_json::json!({})),
        Err(e) => (Outcome::Failure, serde_json::json!({ "reason": e.kind() })),
    };
    // The new account's id, so that its activity page begins with it; a
    // refusal names nobody's account (a taken name is someone else's).
    let user_id = match result {
        Ok(()) => accounts::user_id_of(&ctx.state, &username).await,
        Err(_) => None,
    };
    ctx.audit(
        Event::Registered,
        outcome,
        user_id,
        Some(username.trim()),
        details,
    )
    .await;
    result?;
    leptos_axum::redirect("/login?registered=1");
    Ok(())
}

/// `POST /api/login` with `username`, `password` and optionally `next`.
/// Success rotates the session ID and redirects to `next` when it is a
/// same-site relative path, else to `/account`; a user with two-step
/// verification goes to `/login/verify` first.
#[server(endpoint = "login")]
pub async fn login(
    username: String,
    password: Secret,
    next: Option<String>,
) -> Result<(), AppError> {
    use crate::ssr::audit::Event;
    use crate::ssr::audit::Outcome;
    use crate::ssr::auth::accounts;
    use crate::ssr::auth::password::Password;
    use crate::ssr::context::RequestContext;
    use crate::urls::safe_next;

    let ctx = RequestContext::get()?;
    let user = match accounts::authenticate(
        &ctx.state,
        &username,
        Password::new(password.into_inner()),
        &ctx.address(),
        ctx.client_gone(),
    )
    .await
    {
        Ok(user) => user,
        Err(error) => {
            // The username typed is kept (who was targeted); the reason
            // stays on the server.
            let event = match error {
                AppError::TooManyAttempts(_) => Event::Throttled,
                _ => Event::SignIn,
            };
            let details = serde_json::json!({ "reason": error.kind() });
            // The account, when the name is one (server-side only: the
            // answer is the same either way), so its owner sees the
            // attempt on their activity page.
            let target = accounts::user_id_of(&ctx.state, &username).await;
            // A throttled address is recorded once per window, not once per
            // refused attempt (review E14: a flood of refusals would fill
            // the log for its whole retention).
            let noted = event == Event::Throttled
                && crate::ssr::audit::throttled_recently(&ctx.state, &ctx.client()).await;
            if !noted {
                ctx.audit(
                    event,
                    Outcome::Failure,
                    target,
                    Some(username.trim()),
                    details,
                )
                .await;
            }
            if event == Event::SignIn {
                crate::ssr::audit::alerts::after_failed_sign_in(&ctx.state, target, &ctx.client())
                    .await;
            }
            return Err(error);
        }
    };
    // With MFA on, this is only the first step: the session is "pending
    // second factor" (grants nothing) and the code page comes next.
    let goes_to =
        crate::ssr::mfa::sign_in::after_password(&ctx, &user, safe_next(next.as_deref())).await?;
    // The password step of a two-step sign-in is not a sign-in yet: its
    // own event, so that the sign-in rules (success after failures, a new
    // device) see the sign-in when it completes (review E6).
    let event = match goes_to == "/login/verify" {
        true => Event::PasswordVerified,
        false => Event::SignIn,
    };
    ctx.audit(
        event,
        Outcome::Success,
        Some(user.id),
        None,
        serde_json::json!({ "method": "pwd" }),
    )
    .await;
    tracing::info!(user_id = user.id, "password accepted");
    leptos_axum::redirect(&goes_to);
    Ok(())
}

/// `POST /api/logout`: deletes the session row, clears the cookie, and asks
/// the browser to drop cached pages and cookies (OWASP cheat sheet,
/// "Logout"; ASVS 7.4.1).
#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    use crate::ssr::context::RequestContext;
    use crate::ssr::error::internal;
    use http::header::{HeaderName, HeaderValue};

    let ctx = RequestContext::get()?;
    let user = ctx.current_user().map(|u| u.user_id);
    // The device binding ends with the sign-in (issue 26).
    if let Some(sign_in_id) = ctx
        .current_user()
        .and_then(|u| u.session.auth.sign_in_id.as_deref())
    {
        crate::ssr::dbsc::binding::end(&ctx.state, sign_in_id).await;
    }
    if user.is_some() {
        // Recorded before the session ends, with its hash.
        use crate::ssr::audit::Event;
        use crate::ssr::audit::Outcome;
        ctx.audit(
            Event::SignOut,
            Outcome::Success,
            user,
            None,
            serde_json::json!({}),
        )
        .await;
    }
    ctx.auth_session()?.log_out().await.map_err(internal)?;
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.insert_header(
            HeaderName::from_static("clear-site-data"),
            HeaderValue::from_static("\"cache\", \"cookies\""),
        );
    }
    tracing::info!(user_id = ?user, "signed out");
    leptos_axum::redirect("/login?reason=signed_out");
    Ok(())
}
