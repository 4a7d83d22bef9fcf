//! Files the app makes for the user to keep.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, Request};
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

use crate::shared::AppError;
use crate::ssr::context::auth_session;
use crate::ssr::context::CurrentUser;
use crate::ssr::error::error_response;
use crate::ssr::error::internal;
use crate::ssr::state::AppState;

/// `GET /account/security/recovery-codes.txt`: the recovery codes just
/// made, as a file to keep; only while the page shows them (they are held,
/// sealed, in the session until the user says they saved them).
pub async fn recovery_codes_file(State(state): State<AppState>, req: Request<Body>) -> Response {
    let user = req.extensions().get::<Arc<CurrentUser>>().cloned();
    let session = req.extensions().get::<Session>().cloned();
    let (Some(user), Some(session)) = (user, session) else {
        return error_response(AppError::Unauthenticated);
    };
    let auth = auth_session(&state, session);
    let held = match auth
        .sealed(crate::ssr::session::Held::RecoveryCodesToShow)
        .await
    {
        Ok(Some(held)) => held,
        Ok(None) => {
            return error_response(AppError::Invalid(
                "There are no new recovery codes to download.".to_owned(),
            ))
        }
        Err(e) => return error_response(internal(e)),
    };
    let codes = match crate::ssr::mfa::enrolment::open_codes_to_show(&state, user.user_id, &held) {
        Ok(codes) => codes,
        Err(error) => return error_response(error),
    };
    let mut text = format!(
        "Tessera recovery codes for {}\nEach code works once. Keep them somewhere safe.\n\n",
        user.username
    );
    for code in codes {
        text.push_str(&code);
        text.push('\n');
    }
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"tessera-recovery-codes.txt\"",
            ),
        ],
        text,
    )
        .into_response()
}
