//! API access tokens (issue 14).

use crate::shared::*;
use leptos::prelude::*;

/// `POST /api/token`: a short-lived access token for scripts and other
/// services, for this sign-in. Sensitive (step-up): a stolen session
/// cookie alone cannot turn itself into a bearer token. The token stops
/// working when this sign-in ends (sign-out, revocation, expiry, password
/// change), and at its `exp` in any case.
#[server(endpoint = "token")]
pub async fn create_access_token() -> Result<AccessToken, AppError> {
    use crate::ssr::context::RequestContext;
    use crate::ssr::tokens::http;
    let ctx = RequestContext::get()?;
    let user = crate::ssr::mfa::step_up::require_step_up(&ctx)?;
    http::mint(&ctx, user).await
}
