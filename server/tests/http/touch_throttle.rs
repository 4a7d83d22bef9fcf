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
