//! The user's own passkeys, outside any ceremony: the list the security
//! page shows, renaming one, removing one.

use crate::shared::AppError;
use crate::ssr::context::RequestContext;
use crate::ssr::mfa::step_up::require_step_up;

use super::credentials as passkeys;

/// Renames one of the user's passkeys (no step-up: a name protects nothing).
pub async fn rename(ctx: &RequestContext, id: i64, name: &str) -> Result<(), AppError> {
    let user = ctx.require_user()?;
    let name = passkeys::clean_name(name)?;
    passkeys::rename(&ctx.state.db, user.user_id, id, &name).await
}

/// Removes one of the user's passkeys (after a step-up, ASVS 7.5.1). The
/// account keeps two-step verification (TOTP), which a passkey needs, so
/// no account is left without its required second factor.
pub async fn remove(ctx: &RequestContext, id: i64) -> Result<(), AppError> {
    let user = require_step_up(ctx)?;
    passkeys::remove(&ctx.state.db, user.user_id, id).await?;
    // A change of factors (ASVS 7.4.3), as when one is added.
    crate::ssr::auth::credential_change::end_other_sessions(ctx, user).await?;
    tracing::info!(user_id = user.user_id, passkey = id, "passkey removed");
    Ok(())
}

/// The user's passkeys for the security page.
pub async fn views(
    ctx_db: &crate::ssr::db::Pool,
    user_id: i64,
) -> Result<Vec<crate::shared::PasskeyView>, AppError> {
    Ok(passkeys::list(ctx_db, user_id)
        .await?
        .into_iter()
        .map(|p| crate::shared::PasskeyView {
            id: p.id,
            name: p.name,
            created: p.created_at,
            last_used: p.last_used_at,
        })
        .collect())
}
