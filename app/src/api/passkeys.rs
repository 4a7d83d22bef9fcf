//! Passkeys (issue 11). The ceremonies need JavaScript (the browser's
//! WebAuthn API), so they are server functions called by the passkey
//! islands: `passkey_begin` returns the options for
//! `navigator.credentials.create/get`, `passkey_finish` checks the answer.
//! Renaming and removing are plain forms.

use crate::shared::*;
use leptos::prelude::*;

/// `POST /api/passkey_begin`: starts a ceremony; answers the options as
/// JSON for the browser's WebAuthn API.
#[server(endpoint = "passkey_begin")]
pub async fn passkey_begin(purpose: PasskeyPurpose) -> Result<String, AppError> {
    use crate::ssr::context::RequestContext;
    use crate::ssr::passkeys::ceremonies;
    let ctx = RequestContext::get()?;
    ceremonies::begin(&ctx, purpose).await
}

/// `POST /api/passkey_finish` with the browser's answer (`credential`, the
/// JSON of `PublicKeyCredential.toJSON()`) and, when adding one, its
/// `name`. Answers where the browser goes next.
#[server(endpoint = "passkey_finish")]
pub async fn passkey_finish(
    purpose: PasskeyPurpose,
    credential: String,
    name: Option<String>,
) -> Result<String, AppError> {
    use crate::ssr::context::RequestContext;
    use crate::ssr::passkeys::ceremonies;
    let ctx = RequestContext::get()?;
    ceremonies::finish(&ctx, purpose, &credential, name.as_deref()).await
}

/// `POST /api/passkey_rename` with `id` and `name`.
#[server(endpoint = "passkey_rename")]
pub async fn passkey_rename(id: i64, name: String) -> Result<(), AppError> {
    use crate::ssr::context::RequestContext;
    let ctx = RequestContext::get()?;
    crate::ssr::passkeys::manage::rename(&ctx, id, &name).await?;
    leptos_axum::redirect("/account/security");
    Ok(())
}

/// `POST /api/passkey_remove` with `id`; needs a recent step-up.
#[server(endpoint = "passkey_remove")]
pub async fn passkey_remove(id: i64) -> Result<(), AppError> {
    use crate::ssr::context::RequestContext;
    let ctx = RequestContext::get()?;
    let result = crate::ssr::passkeys::manage::remove(&ctx, id).await;
    ctx.audit_result(
        crate::ssr::audit::Event::PasskeyRemoved,
        None,
        &result,
        serde_json::json!({ "passkey": id }),
    )
    .await;
    result?;
    leptos_axum::redirect("/account/security?passkey=removed");
    Ok(())
}
