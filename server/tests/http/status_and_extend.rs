use crate::helpers::*;

async fn status(app: &TestApp, sid: &str) -> (u16, serde_json::Value) {
    let res = app.get("/api/session_status", Some(sid)).await;
    let code = res.status().as_u16();
    (code, res.json().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_read_reports_deadlines_and_server_time() {
    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("alice").await;
    let (code, body) = status(&app, &sid).await;
    assert_eq!(code, 200);
    let now = app.clock_now();
    assert_eq!(body["server_now_ms"], now * 1000);
    assert_eq!(body["idle_expires_at"], now + 1800);
    assert_eq!(body["absolute_expires_at"], now + 8 * 3600);
    assert_eq!(body["warn_before_secs"], 120);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_the_status_never_extends_the_session() {
    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("alice").await;
    let signed_in = app.last_seen().await;
    // Far past the touch interval, status reads still write nothing.
    for _ in 0..5 {
        app.clock.advance(300);
        let res = app.get("/api/session_status", Some(&sid)).await;
        assert_eq!(res.status(), 200);
        assert!(session_set_cookie(res.headers()).is_none());
    }
    assert_eq!(app.last_seen().await, signed_in);
    let (_, body) = status(&app, &sid).await;
    assert_eq!(body["idle_expires_at"], signed_in + 1800);
    // And the session ends on time.
    app.clock.advance(1800 - 5 * 300);
    assert_eq!(status(&app, &sid).await.0, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extending_writes_and_moves_only_the_idle_deadline() {
    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("alice").await;
    let (_, before) = status(&app, &sid).await;
    app.clock.advance(10); // inside the touch window: extend writes anyway
    let res = app.post_form("/api/extend_session", &[], Some(&sid)).await;
    assert_eq!(res.status(), 200);
    let cookie = session_set_cookie(res.headers()).expect("the cookie follows the new deadline");
    assert_eq!(cookie.value, sid);
    assert_eq!(cookie.max_age(), Some(1800));
    let body: serde_json::Value = res.json().await.expect("json");
    let now = app.clock_now();
    assert_eq!(body["idle_expires_at"], now + 1800);
    assert_eq!(body["absolute_expires_at"], before["absolute_expires_at"]);
    assert_eq!(app.last_seen().await, now, "verified in the database");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_extend_need_a_session() {
    let app = spawn_app().await;
    assert_eq!(app.get("/api/session_status", None).await.status(), 401);
    assert_eq!(
        app.post_form("/api/extend_session", &[], None)
            .await
            .status(),
        401
    );
}

/// Steps of these tests, on the shared app (`testkit::TestApp`).
pub(crate) trait ClockSteps {
    fn clock_now(&self) -> i64;
}

impl ClockSteps for TestApp {
    fn clock_now(&self) -> i64 {
        use app::ssr::clock::Clock;
        self.clock.now()
    }
}
