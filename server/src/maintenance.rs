//! The clean-up that runs beside the requests: expired sessions (audited),
//! spent throttle rows, audit events past their retention.

use std::time::Duration;

use app::ssr::session::SessionBackend;
use app::ssr::state::AppState;

/// Runs `clean_once` every `[session] cleanup_interval_secs`.
pub fn spawn_cleanup(state: AppState) {
    let every = Duration::from_secs(state.settings.session.cleanup_interval_secs.max(1));
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            clean_once(&state).await;
        }
    });
}

/// One pass. Each table is emptied of what has expired in bounded batches
/// (`[session] cleanup_batch_size`), batch after batch until a short one, so
/// that one statement never holds the write lock for long and a table can
/// never grow faster than the clean-up shrinks it (review E14: the throttle
/// once lost one batch of 500 per pass against ~150 new rows a second under
/// a stuffing attack).
pub async fn clean_once(state: &AppState) {
    let batch = state.settings.session.cleanup_batch_size;
    // Cached sessions past a deadline: swept here, once a pass, so that no
    // request pays for a scan of the cache (review E1).
    state.sessions.sweep_cache();
    // Expired sessions. Expired rows are already refused on load; this
    // reclaims space and records when (and by which deadline) each ended:
    // each signed-in session that expired is an authentication event
    // (issue 12).
    loop {
        match state.sessions.delete_expired(batch).await {
            Ok(deleted) => {
                app::ssr::audit::record_expired(&state.db, &state.audit_key, &deleted).await;
                if deleted.len() < batch as usize {
                    break;
                }
                tokio::task::yield_now().await
            }
            Err(e) => {
                tracing::error!(error = %e, "session clean-up failed");
                break;
            }
        }
    }
    // Throttle rows whose window and delay have passed.
    let window = state
        .settings
        .login
        .failure_window_secs
        .max(state.settings.mfa.failure_window_secs);
    loop {
        let deleted = match state.db.acquire().await {
            Ok(mut db) => {
                app::ssr::auth::throttle::delete_expired(&mut db, window, state.clock.now(), batch)
                    .await
            }
            Err(e) => Err(e),
        };
        match deleted {
            Ok(deleted) if deleted >= u64::from(batch) => tokio::task::yield_now().await,
            Ok(_) => break,
            Err(e) => {
                tracing::error!(error = %e, "throttle clean-up failed");
                break;
            }
        }
    }
    // Device bindings whose sign-in has no session left (issue 26): a
    // sign-out deletes its own; an expiry, a revocation or a password
    // change leaves them to this.
    if let Err(e) = app::ssr::dbsc::binding::delete_orphans(state).await {
        tracing::error!(error = %e, "device binding clean-up failed");
    }
    // Audit events past `[audit] retention_days` (ASVS 16.3: kept as long
    // as needed, not forever).
    let retention = state.settings.audit.retention_days;
    loop {
        let now = state.clock.now();
        match app::ssr::audit::delete_expired(&state.db, now, retention, batch).await {
            Ok(deleted) if deleted >= u64::from(batch) => tokio::task::yield_now().await,
            Ok(_) => break,
            Err(e) => {
                tracing::error!(error = %e, "audit clean-up failed");
                break;
            }
        }
    }
}
