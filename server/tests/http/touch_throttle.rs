use app::ssr::session::SessionBackend;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_inside_the_touch_window_write_nothing() {
    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("alice").await;
    let mut db = app.db().await;
    let before = data_version(&mut db).await;
    let writes_before = app.state.sessions.writes();

    app.clock.advance(59);
    for _ in 0..25 {
        assert_eq!(app.get("/account", Some(&sid)).await.status(), 200);
        let res = app.post_form("/api/whoami", &[], Some(&sid)).await;
        assert_eq!(res.status(), 200);
        assert!(
            session_set_cookie(res.headers()).is_none(),
            "no touch, no cookie"
        );
    }

    assert_eq!(
        data_version(&mut db).await,
        before,
        "the database was written"
    );
    assert_eq!(app.state.sessions.writes(), writes_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_request_after_the_window_writes_once() {
    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("alice").await;
    let mut db = app.db().await;
    let signed_in_at = app.last_seen().await;
    let before = data_version(&mut db).await;
    let writes_before = app.state.sessions.writes();

    app.clock.advance(60);
    for _ in 0..5 {
        assert_eq!(app.get("/account", Some(&sid)).await.status(), 200);
    }

    assert_ne!(data_version(&mut db).await, before);
    assert_eq!(
        app.state.sessions.writes(),
        writes_before + 1,
        "one write for five requests"
    );
    assert_eq!(app.last_seen().await, signed_in_at + 60);
}

/// Static files are a route group of their own (server/src/router.rs): no
/// cookie is read for them, so a file fetched past the touch window is not
/// activity (no write, no cookie sent back), and a page fetched next still
/// is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_static_file_is_not_activity_and_sends_no_cookie() {
    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("alice").await;
    let signed_in_at = app.last_seen().await;
    let writes_before = app.state.sessions.writes();

    app.clock.advance(60);
    for path in ["/favicon.svg", "/robots.txt"] {
        let res = app.get(path, Some(&sid)).await;
        assert_eq!(res.status(), 200, "{path}");
        assert!(res.headers().get("set-cookie").is_none(), "{path}");
    }
    assert_eq!(app.state.sessions.writes(), writes_before, "a file touched");
    assert_eq!(app.last_seen().await, signed_in_at);

    assert_eq!(app.get("/account", Some(&sid)).await.status(), 200);
    assert_eq!(app.state.sessions.writes(), writes_before + 1);
    assert!(app.last_seen().await > signed_in_at);
}
