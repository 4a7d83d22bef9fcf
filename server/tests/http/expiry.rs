use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_session_ends_after_the_idle_timeout() {
    let app = spawn_app().await;
    app.register("alice").await;
    let used = app.login("alice", None).await;
    let idle = app.login("alice", None).await;
    app.clock.advance(1799);
    assert!(
        app.is_signed_in(&used).await,
        "alive one second before the deadline"
    );
    app.clock.advance(1);
    assert!(!app.is_signed_in(&idle).await, "dead at the deadline");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activity_slides_the_idle_deadline_and_resends_the_cookie() {
    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("alice").await;
    app.clock.advance(1000);
    let res = app.get("/account", Some(&sid)).await;
    assert_eq!(res.status(), 200);
    let resent = session_set_cookie(res.headers()).expect("the cookie is re-sent on a touch");
    assert_eq!(resent.value, sid, "a touch keeps the ID");
    assert_eq!(
        resent.max_age(),
        Some(1800),
        "Max-Age follows the new idle deadline"
    );

    app.clock.advance(1000); // 2000 s after sign-in, 1000 s after activity
    assert!(app.is_signed_in(&sid).await);
    app.clock.advance(1800);
    assert!(!app.is_signed_in(&sid).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_absolute_timeout_is_never_extended() {
    let app = spawn_app_with(|s| {
        s.session.idle_timeout_secs = 600;
        s.session.absolute_timeout_secs = 1500;
    })
    .await;
    let sid = app.registered_and_logged_in("alice").await;
    for _ in 0..2 {
        app.clock.advance(500);
        assert!(app.is_signed_in(&sid).await);
    }
    // 1000 s in, last activity now: the idle deadline would be 1600, but
    // the absolute one is 1500, and the cookie says so too.
    app.clock.advance(300);
    let res = app.get("/account", Some(&sid)).await;
    assert_eq!(res.status(), 200);
    let cookie = session_set_cookie(res.headers()).expect("touch re-sends the cookie");
    assert_eq!(cookie.max_age(), Some(200));
    app.clock.advance(200);
    assert!(!app.is_signed_in(&sid).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_row_is_refused_even_before_the_cleanup_deletes_it() {
    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("alice").await;
    app.clock.advance(1800);
    assert_eq!(app.session_rows().await, 1, "the row is still there");
    assert!(!app.is_signed_in(&sid).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cleanup_deletes_expired_rows_in_batches() {
    let app = spawn_app_with(|s| s.session.cleanup_batch_size = 2).await;
    app.register("alice").await;
    for _ in 0..5 {
        app.login("alice", None).await;
    }
    app.clock.advance(1800);
    let live = app.login("alice", None).await;
    assert_eq!(app.sessions_deleted_in_one_batch().await, 2);
    assert_eq!(app.sessions_deleted_in_one_batch().await, 2);
    assert_eq!(app.sessions_deleted_in_one_batch().await, 1);
    assert_eq!(app.sessions_deleted_in_one_batch().await, 0);
    assert_eq!(app.session_rows().await, 1);
    assert!(app.is_signed_in(&live).await);
}

/// Steps of these tests, on the shared app (`testkit::TestApp`).
pub(crate) trait ExpirySteps {
    async fn sessions_deleted_in_one_batch(&self) -> u64;
}

impl ExpirySteps for TestApp {
    async fn sessions_deleted_in_one_batch(&self) -> u64 {
        use app::ssr::session::SessionBackend;
        self.state
            .sessions
            .delete_expired(self.state.settings.session.cleanup_batch_size)
            .await
            .expect("delete")
            .len() as u64
    }
}
