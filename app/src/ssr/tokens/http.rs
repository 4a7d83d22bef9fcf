//! The HTTP face of access tokens (issue 14): minting after a step-up,
//! `Authorization: Bearer` on `/api/v1/*`, and the published keys.
//!
//! API routes take a bearer token only, never the session cookie: a browser
//! cannot be made to send an `Authorization` header cross-site, so these
//! routes need no cross-site check (docs/sessions.md, "Cross-site requests").

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::shared::{AccessToken, AppError};
use crate::ssr::audit::Event;
use crate::ssr::context::CurrentUser;
use crate::ssr::context::RequestContext;
use crate::ssr::error::error_response;
use crate::ssr::error::internal;
use crate::ssr::session::store::SessionOwner;
use crate::ssr::session::SessionBackend as _;
use crate::ssr::state::AppState;
use crate::ssr::tokens::jwt::TokenError;

/// `POST /api/token` after the step-up check: a token for this sign-in.
pub async fn mint(ctx: &RequestContext, user: &CurrentUser) -> Result<AccessToken, AppError> {
    // `reauthenticate` gives every stepped-up session a sign-in id.
    let Some(sign_in_id) = user.session.auth.sign_in_id.as_deref() else {
        return Err(AppError::StepUpRequired);
    };
    let tokens = &ctx.state.access_tokens;
    let settings = tokens.settings();
    let minted =
        tokens
            .ring()
            .await
            .mint(user.user_id, sign_in_id, ctx.state.clock.now(), settings);
    let (token, claims) = match minted {
        Ok(minted) => minted,
        Err(error) => {
            tracing::error!(%error, "cannot mint an access token");
            return Err(AppError::AccessTokensUnavailable);
        }
    };
    ctx.audit_result(
        Event::AccessTokenIssued,
        Some(user.user_id),
        &Ok::<(), AppError>(()),
        serde_json::json!({ "jti": claims.jti, "expires_at": claims.exp }),
    )
    .await;
    Ok(AccessToken {
        access_token: token,
        token_type: "Bearer".to_owned(),
        expires_in: settings.ttl_secs,
    })
}

/// What `GET /api/v1/me` answers.
#[derive(Debug, Serialize)]
struct Me {
    user_id: i64,
    username: String,
    display_name: String,
    token_expires_at: i64,
}

/// A refused bearer token: 401 with the RFC 6750 challenge. The reason is
/// short and fixed; the token itself is never echoed or logged.
fn refused(error: TokenError) -> Response {
    tracing::info!(reason = %error, "bearer token refused");
    let challenge =
        format!("Bearer realm=\"tessera\", error=\"invalid_token\", error_description=\"{error}\"");
    let mut res = (
        StatusCode::UNAUTHORIZED,
        axum::Json(
            serde_json::json!({ "error": "invalid_token", "error_description": error.to_string() }),
        ),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    res
}

/// No credentials at all: the bare challenge (RFC 6750 section 3.1).
fn unauthenticated() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer realm=\"tessera\"")],
        axum::Json(serde_json::json!({ "error": "unauthenticated" })),
    )
        .into_response()
}

/// The token of an `Authorization: Bearer` header; `Err` when the header
/// is there but is not a bearer token.
fn bearer(headers: &HeaderMap) -> Option<Result<&str, TokenError>> {
    let value = headers.get(header::AUTHORIZATION)?;
    let parsed = value.to_str().ok().and_then(|v| {
        let (scheme, token) = v.trim().split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim())
            .filter(|t| !t.is_empty())
    });
    Some(parsed.ok_or(TokenError::Malformed))
}

/// The one place API requests are authenticated: every check of
/// `access_token::KeyRing::validate`, then the sign-in must still have a
/// live session (the store, never a cache).
async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(i64, i64, SessionOwner), Response> {
    let token = match bearer(headers) {
        None => return Err(unauthenticated()),
        Some(Err(error)) => return Err(refused(error)),
        Some(Ok(token)) => token,
    };
    let tokens = &state.access_tokens;
    let valid = tokens
        .ring()
        .await
        .validate(token, state.clock.now(), tokens.settings())
        .map_err(refused)?;
    match state
        .sessions
        .live_sign_in_owner(valid.user_id, &valid.sign_in_id)
        .await
    {
        Ok(Some(owner)) => Ok((valid.user_id, valid.expires_at, owner)),
        // Signed out, revoked, expired, or the account deleted.
        Ok(None) => Err(refused(TokenError::SessionEnded)),
        Err(error) => Err(error_response(internal(error))),
    }
}

/// `GET /api/v1/me`: who the bearer token speaks for.
pub async fn me(State(state): State<AppState>, req: Request<Body>) -> Response {
    match authenticate(&state, req.headers()).await {
        Ok((user_id, expires_at, owner)) => axum::Json(Me {
            user_id,
            username: owner.username,
            display_name: owner.display_name,
            token_expires_at: expires_at,
        })
        .into_response(),
        Err(res) => res,
    }
}

/// `GET /.well-known/jwks.json`: the public keys that may have signed a
/// token still valid (RFC 7517).
pub async fn jwks(State(state): State<AppState>) -> Response {
    let tokens = &state.access_tokens;
    let keys = tokens
        .ring()
        .await
        .jwks(state.clock.now(), tokens.settings());
    (
        [(header::CONTENT_TYPE, "application/jwk-set+json")],
        keys.to_string(),
    )
        .into_response()
}
