//! The user's sessions and devices, and their account activity (issue 12;
//! ASVS 7.5.2: users can see and end their sessions).

use crate::shared::*;
use leptos::prelude::*;

/// `POST /api/session_revoke` with `handle`: ends one of the user's other
/// sessions; it is refused on its very next request.
#[server(endpoint = "session_revoke")]
pub async fn session_revoke(handle: String) -> Result<(), AppError> {
    use crate::ssr::account::devices;
    use crate::ssr::context::RequestContext;
    let ctx = RequestContext::get()?;
    devices::revoke(&ctx, &handle).await?;
    leptos_axum::redirect("/account/sessions?ended=1");
    Ok(())
}

/// `POST /api/sessions_end_others`: "Sign out everywhere else"; needs a
/// recent step-up.
#[server(endpoint = "sessions_end_others")]
pub async fn sessions_end_others() -> Result<(), AppError> {
    use crate::ssr::account::devices;
    use crate::ssr::context::RequestContext;
    let ctx = RequestContext::get()?;
    let ended = devices::end_others(&ctx).await?;
    leptos_axum::redirect(&format!("/account/sessions?ended={ended}"));
    Ok(())
}

/// `POST /api/secure_account`: "Secure my account" on the impossible-travel
/// notice (issue 25): after a step-up, signs out everywhere else, then on
/// to the password form.
#[server(endpoint = "secure_account")]
pub async fn secure_account() -> Result<(), AppError> {
    use crate::ssr::account::devices;
    use crate::ssr::context::RequestContext;
    let ctx = RequestContext::get()?;
    let ended = devices::secure_account(&ctx).await?;
    leptos_axum::redirect(&format!(
        "/account/security?secured={ended}#password-heading"
    ));
    Ok(())
}
