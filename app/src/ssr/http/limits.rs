//! Limits on the work the server takes on at once (issue 13; ASVS 15.x /
//! OWASP Denial of Service Cheat Sheet): a fixed number of requests in
//! progress, each within a time limit. Beyond either, a clear answer at
//! once instead of a queue that grows until memory runs out. (The body
//! size limit is `limit_body`; header size and the header read
//! timeout are the listener's, `server/src/serve.rs`.)

use std::sync::Arc;
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::State;
use axum::http::{header, Request};
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::Semaphore;

use crate::shared::AppError;
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
/// `http::completion::run_to_completion` still finishes: a state change is never left
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

/// The body limit: a body over `max_bytes` gets `413` whether it announces
/// its length or arrives in chunks (tower-http's limit turns a chunked
/// overrun into a read error, which the server functions answered with
/// 400). The body is read here, once, so nothing below sees a partial one.
pub async fn limit_body(
    State(max_bytes): State<usize>,
    req: Request<Body>,
    next: Next,
) -> Response {
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|length| length > max_bytes as u64) {
        return error_response(AppError::TooLarge);
    }
    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, max_bytes).await {
        Ok(bytes) => bytes,
        Err(e) => {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|cause| cause.is::<http_body_util::LengthLimitError>());
            return if too_large {
                error_response(AppError::TooLarge)
            } else {
                error_response(AppError::BadRequest)
            };
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}
