//! The session cache (issue 9): warm sessions need no database read, and
//! every write on this server still counts on the very next request.

use app::ssr::clock::Clock;
use app::ssr::context::auth_session;
use app::ssr::session::SessionBackend;
use tower_sessions::session::Id;
use tower_sessions::Session;

use crate::helpers::*;

/// Signs alice in and makes sure her session is in the cache.
async fn warm_session(app: &TestApp) -> String {
    let sid = app.registered_and_logged_in("alice").await;
    assert!(app.is_signed_in(&sid).await);
    sid
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_session_is_served_without_reading_the_database() {
    let app = spawn_app().await;
    let sid = warm_session(&app).await;
    // A write the server does not make (another process on its file) is
    // not seen while the row is cached: the reason the SQLite file must
    // have one owner, and the proof that the cache answers. On PostgreSQL
    // (several servers) the write is announced (issue 24): once the
    // server has heard it, it is seen.
    let mut db = app.db().await;
    sqlx::query("DELETE FROM sessions")
        .execute(&mut db)
        .await
        .expect("delete");
    app.settle().await;
    assert_eq!(
        app.is_signed_in(&sid).await,
        app.database.is_sqlite(),
        "served from the cache on SQLite only"
    );

    let off = spawn_app_with(|s| s.session.cache_max_entries = 0).await;
    let sid = warm_session(&off).await;
    let mut db = off.db().await;
    sqlx::query("DELETE FROM sessions")
        .execute(&mut db)
        .await
        .expect("delete");
    assert!(!off.is_signed_in(&sid).await, "no cache: read every time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_session_signed_out_is_refused_on_the_next_request() {
    let app = spawn_app().await;
    let sid = warm_session(&app).await;
    let out = app.post_form("/api/logout", &[], Some(&sid)).await;
    assert_eq!(out.status(), 200);
    assert!(!app.is_signed_in(&sid).await);
    let res = app.post_form("/api/extend_session", &[], Some(&sid)).await;
    assert_eq!(res.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_session_revoked_with_all_of_its_users_sessions_is_refused() {
    let app = spawn_app().await;
    let sid = warm_session(&app).await;
    let other = app.login("alice", None).await;
    assert!(app.is_signed_in(&other).await);
    app.state
        .sessions
        .delete_all_for_user(1)
        .await
        .expect("revoke");
    assert!(!app.is_signed_in(&sid).await);
    assert!(!app.is_signed_in(&other).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_session_still_expires_on_time() {
    let app = spawn_app().await;
    let sid = warm_session(&app).await;
    app.clock.advance(1799);
    let res = app.get("/api/session_status", Some(&sid)).await;
    assert_eq!(res.status(), 200, "passive: does not extend");
    app.clock.advance(1);
    assert!(!app.is_signed_in(&sid).await, "idle deadline reached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_change_shows_on_the_next_page_of_a_cached_session() {
    let app = spawn_app().await;
    let sid = warm_session(&app).await;
    let saved = app
        .post_form(
            "/api/profile",
            &[("display_name", "Alice Liddell"), ("about", "")],
            Some(&sid),
        )
        .await;
    assert_eq!(saved.status(), 200);
    let page = app
        .get("/account", Some(&sid))
        .await
        .text()
        .await
        .expect("page");
    assert!(page.contains("Alice Liddell"), "stale profile served");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_max_per_user_eviction_reaches_a_cached_session() {
    let app = spawn_app_with(|s| s.session.max_per_user = 1).await;
    let first = warm_session(&app).await;
    let second = app.login("alice", None).await;
    assert!(!app.is_signed_in(&first).await, "evicted but still cached");
    assert!(app.is_signed_in(&second).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activity_moves_the_deadlines_a_cached_session_reports() {
    let app = spawn_app().await;
    let sid = warm_session(&app).await;
    app.clock.advance(60);
    // This request touches the session: its idle deadline moves 60 s on.
    assert!(app.is_signed_in(&sid).await);
    let status: serde_json::Value = app
        .get("/api/session_status", Some(&sid))
        .await
        .json()
        .await
        .expect("json");
    let now = app.clock.now();
    assert_eq!(status["idle_expires_at"], now + 1800, "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_data_saved_by_one_request_is_what_the_next_one_loads() {
    let app = spawn_app().await;
    let sid = warm_session(&app).await;
    let id: Id = sid.parse().expect("a session ID");
    let load = || async {
        let session = Session::new(Some(id), app.state.sessions.clone(), None);
        let auth = auth_session(&app.state, session.clone());
        assert!(auth.current().await.expect("load").is_some(), "live");
        session
    };
    let writer = load().await;
    writer.insert("step_up_at", 1234).await.expect("insert");
    writer.save().await.expect("save");

    let next = load().await;
    assert_eq!(
        next.get::<i64>("step_up_at").await.expect("get"),
        Some(1234),
        "a stale cached copy was served"
    );
}
