//! What follows a change of credentials (password, two-step verification
//! on or off, new recovery codes, a passkey added or removed).

use crate::shared::AppError;
use crate::ssr::auth::accounts;
use crate::ssr::context::CurrentUser;
use crate::ssr::context::RequestContext;
use crate::ssr::error::internal;
use crate::ssr::session::{new_sign_in_id, SessionBackend};

/// ASVS 7.4.3: after a change of factors every other session of the user
/// ends (a new credential epoch, and their rows deleted); this one moves to
/// a new ID under the new epoch and keeps its step-up and deadlines.
///
/// It also becomes a new sign-in (a fresh `sign_in_id`): the access tokens
/// minted before the change name the old one in their `sid`, so they stop
/// working at once, this session's own included (ASVS 7.4.3 covers every
/// session token the user holds, not only cookies).
pub async fn end_other_sessions(ctx: &RequestContext, user: &CurrentUser) -> Result<(), AppError> {
    let epoch = accounts::bump_credential_epoch(&ctx.state, user.user_id).await?;
    ctx.state
        .sessions
        .delete_all_for_user(user.user_id)
        .await
        .map_err(internal)?;
    ctx.auth_session()?
        .reauthenticate(&user.session, &ctx.client(), |auth| {
            auth.credential_epoch = epoch;
            auth.sign_in_id = Some(new_sign_in_id());
            // Any change of factors happens with MFA settled: a session held
            // for enrolment is free once MFA is on.
            auth.must_enrol = false;
        })
        .await
        .map_err(internal)
}
