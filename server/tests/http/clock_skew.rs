//! Two servers on one PostgreSQL whose clocks differ by 2 s (issue 14).
//! Deadlines are stored as times and compared with each server's own clock
//! (servers must run NTP; docs/deployment.md, "More than one server"): a skew of a few
//! seconds moves the moment a session ends by that much on the server that
//! is ahead, never more, and breaks nothing else: sessions, touches and
//! access tokens made on one are accepted on the other.

use app::ssr::clock::Clock;
use app::ssr::clock::ManualClock;
use app::ssr::session::SessionBackend;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{spawn_app_with_clock, TestApp};
use crate::support;

async fn idle_deadline(app: &TestApp, sid: &str) -> Option<i64> {
    let res = app.get("/api/session_status", Some(sid)).await;
    if res.status() != StatusCode::OK {
        return None;
    }
    let body: Value = res.json().await.expect("json");
    body["idle_expires_at"].as_i64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_two_seconds_apart_agree_on_sessions_and_tokens() {
    let Some(url) = support::fresh_database("clock_skew").await else {
        return;
    };
    let keys = tempfile::tempdir().expect("shared key dir");
    let configure = |url: String, keys: std::path::PathBuf| {
        move |s: &mut app::ssr::config::Settings| {
            s.database.url = url;
            s.jwt.key_dir = keys;
        }
    };
    let t = ManualClock::starting_now().now();
    let behind = spawn_app_with_clock(
        ManualClock::starting_at(t),
        configure(url.clone(), keys.path().to_owned()),
    )
    .await;
    let ahead = spawn_app_with_clock(
        ManualClock::starting_at(t + 2),
        configure(url, keys.path().to_owned()),
    )
    .await;

    // Signed in on the server that is ahead: alive on both.
    ahead.register("alice").await;
    let sid = ahead.login("alice", None).await;
    let deadline = idle_deadline(&ahead, &sid).await.expect("alive ahead");
    assert_eq!(idle_deadline(&behind, &sid).await, Some(deadline));

    // A touch on one and then the other within the touch interval: one
    // write, not two (the throttle compares stored times, so the server
    // behind does not see the session as due).
    let interval = ahead.state.settings.session.touch_interval_secs as i64;
    ahead.clock.advance(interval);
    behind.clock.advance(interval);
    let writes = || ahead.state.sessions.writes() + behind.state.sessions.writes();
    let before = writes();
    assert_eq!(
        ahead.get("/account", Some(&sid)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        behind.get("/account", Some(&sid)).await.status(),
        StatusCode::OK
    );
    assert_eq!(writes() - before, 1, "one touch for the two requests");
    let deadline = idle_deadline(&behind, &sid).await.expect("alive");

    // Access tokens: minted ahead (iat 2 s in the future for the other
    // server), accepted behind, within the leeway.
    let sid = ahead.step_up_with_password(&sid).await;
    let res = ahead.post_form("/api/token", &[], Some(&sid)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.expect("json");
    let token = body["access_token"].as_str().expect("token").to_owned();
    let me = behind
        .http
        .get(behind.url("/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET");
    assert_eq!(me.status(), StatusCode::OK, "a token from the server ahead");
    let deadline = idle_deadline(&ahead, &sid).await.unwrap_or(deadline);

    // The idle deadline: the server ahead ends the session 2 s before the
    // one behind, and no later than its own clock says.
    let now_ahead = ahead.clock.now();
    ahead.clock.advance(deadline - now_ahead - 1);
    behind.clock.advance(deadline - now_ahead - 1);
    assert!(
        idle_deadline(&ahead, &sid).await.is_some(),
        "1 s left ahead"
    );
    assert!(
        idle_deadline(&behind, &sid).await.is_some(),
        "3 s left behind"
    );
    ahead.clock.advance(1);
    behind.clock.advance(1);
    assert_eq!(idle_deadline(&ahead, &sid).await, None, "ended ahead");
    assert!(
        idle_deadline(&behind, &sid).await.is_some(),
        "2 s left behind"
    );
    behind.clock.advance(2);
    assert_eq!(
        idle_deadline(&behind, &sid).await,
        None,
        "ended behind, 2 s later"
    );
}
