//! Every request runs to completion, whether or not its client waits.

use axum::body::Body;
use axum::http::Request;
use axum::middleware::Next;
use axum::response::Response;

use crate::ssr::context::ClientGone;
use crate::ssr::error::internal_error;

/// Runs the rest of the request in a task of its own, so that a client that
/// disconnects does not cancel it halfway. A cancelled page render is not
/// harmless in Leptos 0.8: dropping the response future disposes the page's
/// reactive owner while tasks it spawned (resources, `Suspense`) still run,
/// and they panic reading disposed signals (reproduced with clients that
/// close the socket right after sending; server/tests/aborted_requests.rs).
/// Finishing also means a state change the server accepted is saved
/// whole (the session layer saves after the handler). A panic below
/// becomes a 500 instead of a dropped connection.
///
/// Work that is not worth finishing for a client that has gone (a sign-in
/// still waiting for a hashing slot) watches the `ClientGone` this puts in
/// the request.
pub async fn run_to_completion(mut req: Request<Body>, next: Next) -> Response {
    use tracing::Instrument;
    let (client_gone, connection) = ClientGone::new();
    req.extensions_mut().insert(client_gone);
    let task = tokio::spawn(next.run(req).in_current_span());
    // If hyper drops this future (the client went away), `connection` is
    // dropped with it and the request's `ClientGone` fires.
    let answer = task.await;
    connection.answered();
    match answer {
        Ok(response) => response,
        Err(e) => {
            tracing::error!(error = %e, "request task failed");
            internal_error("the request failed")
        }
    }
}
