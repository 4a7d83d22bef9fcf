//! What the expiry countdown asks the server.

use crate::shared::*;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

/// `GET /api/session_status`: read-only. It is not activity: asking when
/// the session ends must not move the end (no observer effect), and it
/// never writes.
#[server(endpoint = "session_status", input = GetUrl)]
pub async fn session_status() -> Result<SessionDeadlines, AppError> {
    use crate::ssr::context::RequestContext;

    let ctx = RequestContext::get()?;
    let user = ctx.require_user()?;
    Ok(ctx.status(&user.session.deadlines))
}

/// `POST /api/extend_session`: "Stay signed in". Counts as activity and
/// always writes; the absolute deadline does not move. A session that ended
/// while this request was under way (signed out in another tab, rotated)
/// is not extended: the answer is the visitor's 401, with no cookie.
#[server(endpoint = "extend_session")]
pub async fn extend_session() -> Result<SessionDeadlines, AppError> {
    use crate::ssr::context::RequestContext;
    use crate::ssr::error::internal;
    use crate::ssr::session::auth::Extended;

    let ctx = RequestContext::get()?;
    ctx.require_user()?;
    match ctx
        .auth_session()?
        .extend(&ctx.client())
        .await
        .map_err(internal)?
    {
        Extended::To(deadlines) => Ok(ctx.status(&deadlines)),
        Extended::SessionGone => Err(AppError::Unauthenticated),
    }
}
