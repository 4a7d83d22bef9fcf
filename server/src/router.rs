//! The routes, in groups, each with the layers it needs. A request meets the
//! layers in the order they are written (in `ServiceBuilder` the first layer
//! is the outermost).
//!
//! - Every route: tracing, security headers, the cache policy, the
//!   concurrency and time limits, the body limit, run to completion.
//! - The bearer API (`/api/v1/*`, the JWKS): nothing more. It reads no
//!   cookie, so it needs no cross-site check and no session.
//! - Static files (the build's `/pkg/`, the favicon, robots.txt): served from
//!   the site root with no cookie read and no session: a file is the same
//!   for everyone and reveals nothing.
//! - The site (pages, server functions, the recovery-codes download, and
//!   the 404 page for any other path): the cross-site check, the session
//!   cookie, the session resolved.

use std::sync::Arc;
use std::time::Duration;

use app::app::{shell, App};
use app::ssr::error::server_fn_status;
use app::ssr::http::assets::HashedAssets;
use app::ssr::http::cache::cache_policy;
use app::ssr::http::completion::run_to_completion;
use app::ssr::http::cross_site::refuse_cross_site;
use app::ssr::http::limits::limit_body;
use app::ssr::http::resolve_session::resolve_session;
use app::ssr::session::cookie::manage_session;
use app::ssr::session::cookie::SessionCookies;
use app::ssr::session::SqlSessionStore;
use app::ssr::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, Request, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state, map_response};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, handle_server_fns_with_context, LeptosRoutes};
use tower::ServiceBuilder;
use tower_http::services::ServeDir;
use tower_http::trace::TraceLayer;

pub fn router(state: AppState, assets: Option<HashedAssets>) -> Router {
    let settings = state.settings.clone();
    bearer_api(&state)
        .merge(static_files(&state, assets))
        .merge(device_binding(&state))
        .merge(site(state.clone()))
        .layer(
            ServiceBuilder::new()
                .layer(TraceLayer::new_for_http())
                // Security headers and the CSP nonce on every response,
                // including the errors of the layers below.
                .layer(from_fn_with_state(
                    state.clone(),
                    app::ssr::http::headers::security_headers,
                ))
                .layer(from_fn(cache_policy))
                // Beyond these, 503 or 408 at once.
                .layer(from_fn_with_state(
                    Arc::new(tokio::sync::Semaphore::new(
                        settings.server.max_concurrent_requests as usize,
                    )),
                    app::ssr::http::limits::limit_concurrency,
                ))
                .layer(from_fn_with_state(
                    Duration::from_secs(settings.server.request_timeout_secs),
                    app::ssr::http::limits::limit_time,
                ))
                // Oversized bodies: 413, announced or chunked. The body is
                // read whole here, within the time limit: a client that
                // trickles it is cut off before any work starts.
                .layer(from_fn_with_state(
                    settings.limits.max_body_bytes,
                    limit_body,
                ))
                // Everything below finishes even if the client goes away.
                .layer(from_fn(run_to_completion)),
        )
}

/// Bearer tokens only: the access-token API and its public keys.
fn bearer_api(state: &AppState) -> Router {
    Router::new()
        // Liveness: the process answers (cheap; what restarts it).
        .route("/health", get(|| async { "ok" }))
        // Readiness: it can serve, its database answers (what a load
        // balancer checks, issue 24).
        .route("/health/ready", get(ready))
        .route("/api/v1/me", get(app::ssr::tokens::http::me))
        .route("/.well-known/jwks.json", get(app::ssr::tokens::http::jwks))
        .with_state(state.clone())
}

/// Device-bound sessions' two endpoints (issue 26): the session cookie,
/// but not the cross-site check (each answer needs a proof by the device,
/// over a challenge only this session's own pages carried; see
/// `dbsc::http`) and not `resolve_session` (a refresh comes exactly when
/// the bound cookie is missing).
fn device_binding(state: &AppState) -> Router {
    Router::new()
        .route(
            app::ssr::dbsc::binding::REGISTER_PATH,
            post(app::ssr::dbsc::http::register),
        )
        .route(
            app::ssr::dbsc::binding::REFRESH_PATH,
            post(app::ssr::dbsc::http::refresh),
        )
        .with_state(state.clone())
        .layer(from_fn_with_state(
            SessionCookies::new(state.sessions.clone(), &state.settings.session),
            manage_session::<SqlSessionStore>,
        ))
}

/// The build's files and the few at the site root (`http::cache::STATIC_FILES`),
/// precompressed copies preferred when the client takes them. The hashed
/// names pages use (`name.HASH.ext`, `http::assets`) are served from the
/// build's plain files.
fn static_files(state: &AppState, assets: Option<HashedAssets>) -> Router {
    let root = state.leptos_options.site_root.to_string();
    let files = ServeDir::new(&root).precompressed_br().precompressed_gzip();
    let mut router = Router::new().route_service(
        &format!("/{}/{{*file}}", state.leptos_options.site_pkg_dir),
        files.clone(),
    );
    for file in app::ssr::http::cache::STATIC_FILES {
        router = router.route_service(file, files.clone());
    }
    router.layer(axum::middleware::map_request(move |req: Request<Body>| {
        let req = match &assets {
            Some(assets) => assets.rewrite(req),
            None => req,
        };
        async move { Ok::<_, std::convert::Infallible>(req) }
    }))
}

/// What a browser uses: pages, server functions, downloads.
fn site(state: AppState) -> Router {
    let context = {
        let state = state.clone();
        move || {
            provide_context(state.clone());
            app::ssr::http::headers::provide_request_nonce();
        }
    };
    let server_fns = {
        let context = context.clone();
        move |req: Request<Body>| handle_server_fns_with_context(context.clone(), req)
    };
    let routes = generate_route_list(App);
    let settings = state.settings.clone();
    Router::new()
        .route(
            "/account/security/recovery-codes.txt",
            get(app::ssr::http::downloads::recovery_codes_file),
        )
        // leptos_routes_with_context registers each server function's own
        // route; this catches the unknown ones (answered with 400).
        .route("/api/{*fn_name}", post(server_fns))
        // leptos_axum provides the router state (`AppState`) as context to
        // every page and server function it registers.
        .leptos_routes_with_context(
            &state,
            routes,
            app::ssr::http::headers::provide_request_nonce,
            {
                let state = state.clone();
                move || shell(state.leptos_options.clone())
            },
        )
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(context, shell))
        .with_state(state.clone())
        .layer(
            ServiceBuilder::new()
                .layer(from_fn_with_state(state.clone(), refuse_cross_site))
                // The cookie in, the session loaded lazily, the cookie out.
                .layer(from_fn_with_state(
                    SessionCookies::new(state.sessions.clone(), &settings.session),
                    manage_session::<SqlSessionStore>,
                ))
                // Inside the session layer, so that it sees the real status:
                // a refused request (a wrong code, 401) still saves what it
                // recorded (the count of wrong codes); only a 500 saves
                // nothing.
                .layer(map_response(server_fn_status))
                .layer(from_fn_with_state(state, resolve_session)),
        )
}

/// `200 ready` when the database answers within a second, else `503` with
/// `Retry-After: 1`: a load balancer sends no requests to an instance that
/// could only answer 503.
async fn ready(State(state): State<AppState>) -> Response {
    let ping = app::ssr::db::ping(&state.db);
    match tokio::time::timeout(Duration::from_secs(1), ping).await {
        Ok(Ok(())) => "ready".into_response(),
        Ok(Err(error)) => {
            tracing::warn!(%error, "not ready: the database does not answer");
            not_ready()
        }
        Err(_) => {
            tracing::warn!("not ready: the database did not answer within 1 s");
            not_ready()
        }
    }
}

fn not_ready() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "1")],
        "the database does not answer",
    )
        .into_response()
}
