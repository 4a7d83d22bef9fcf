//! Limits on the work the server takes on at once (issue 13; ASVS 15.x /
//! OWASP Denial of Service Cheat Sheet): a fixed number of requests in
//! progress, each within a time limit. Beyond either, a clear answer at
//! once instead of a queue that grows until memory runs out. (The body
//! size limit is `web::limit_body`; header size and the header read
//! timeout are the listener's, `server/src/serve.rs`.)

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::Request;
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::Semaphore;

use crate::api::AppError;
use crate::ssr::error::error_response;

/// At most the semaphore's permits in progress; the next gets 503 with
/// `Retry-After: 1` without waiting.
pub async fn limit_concurrency(
    State(in_progress): State<Arc<Semaphore>>,
    req: Request<Body>,
    next: Next,
) -> Response {
    let Ok(_permit) = in_progress.try_acquire_owned() else {
        tracing::warn!(path = %req.uri().path(), "over the concurrency limit: 503");
        return error_response(AppError::Busy(1));
    };
    next.run(req).await
}

/// A request that has not been received and answered within the limit gets
/// 408 and the connection is closed: a client trickling its body cannot
/// hold a connection (and a slot) for long. Work already handed to
/// `web::run_to_completion` still finishes: a state change is never left
/// half-done.
pub async fn limit_time(State(limit): State<Duration>, req: Request<Body>, next: Next) -> Response {
    // A `Uri` clone shares its bytes: no copy per request for a log line.
    let uri = req.uri().clone();
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(path = uri.path(), "request timed out: 408");
            let mut response = error_response(AppError::TimedOut);
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
            response
        }
    }
}
