//! A session bound to its browser: another family is a stolen cookie; an update or a move is noted.

use super::*;
use crate::helpers::data_version;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_used_from_another_browser_is_revoked_and_alerted() {
    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("alice").await;
    // The cookie, copied into another browser: refused at once, and dead
    // for the original browser too.
    assert_eq!(get_as(&app, "/account", &sid, FIREFOX_ON_LINUX).await, 303);
    assert!(!app.is_signed_in(&sid).await);
    let events = app.audit_events().await;
    assert!(
        events.contains(&"session_revoked/success".to_owned()),
        "{events:?}"
    );
    let mut db = app.db().await;
    let alert: String = sqlx::query_scalar(
        "SELECT details FROM audit_events WHERE event = 'alert' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&mut db)
    .await
    .expect("an alert");
    assert!(
        alert.contains("session_browser_changed") && alert.contains("high"),
        "{alert}"
    );
    assert!(alert.contains("Firefox"), "{alert}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_update_is_noted_once_and_keeps_the_session() {
    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("alice").await;
    // Noted with the next write of activity (review E8).
    app.clock.advance(60);
    for _ in 0..3 {
        assert_eq!(
            get_as(&app, "/account", &sid, CHROME_132_ON_LINUX).await,
            200
        );
    }
    let events = app.audit_events().await;
    assert_eq!(
        events
            .iter()
            .filter(|e| *e == "user_agent_changed/success")
            .count(),
        1,
        "{events:?}"
    );
    assert!(!events.iter().any(|e| e.starts_with("alert")), "{events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_to_another_address_is_noted_once_and_keeps_the_session() {
    let app = spawn_app_with(|s| s.proxy.trusted = "127.0.0.1".to_owned()).await;
    let sid = app.registered_and_logged_in("alice").await;
    app.clock.advance(60);
    for _ in 0..3 {
        let res = app
            .http
            .get(app.url("/account"))
            .header("cookie", format!("__Host-sid={sid}"))
            .header("x-forwarded-for", "203.0.113.9")
            .send()
            .await
            .expect("GET");
        assert_eq!(res.status(), StatusCode::OK, "another network is not fatal");
    }
    let mut db = app.db().await;
    let rows = sqlx::query(
        "SELECT ip, details, session_hash FROM audit_events WHERE event = 'address_changed'",
    )
    .fetch_all(&mut db)
    .await
    .expect("events");
    assert_eq!(rows.len(), 1, "noted once per move");
    assert_eq!(rows[0].get::<String, _>("ip"), "203.0.113.9");
    assert!(rows[0]
        .get::<String, _>("details")
        .contains("\"from\":\"127.0.0.1\""));
    assert!(rows[0].get::<Option<Vec<u8>>, _>("session_hash").is_some());
    assert!(app.is_signed_in(&sid).await);
    assert!(!app
        .audit_events()
        .await
        .iter()
        .any(|e| e.starts_with("alert")));
}

/// Review E8: a move is noted with the throttled write of activity, never
/// on its own: the countdown's status read stays read-only (no write, the
/// deadlines do not move), and an address that flips back and forth (IPv4
/// and IPv6, several exits) is noted once per touch interval, not per flip.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_that_flips_is_noted_once_and_a_status_read_writes_nothing() {
    let app = spawn_app_with(|s| s.proxy.trusted = "127.0.0.1".to_owned()).await;
    let sid = app.registered_and_logged_in("alice").await;
    let from = |address: &'static str, path: &str| {
        app.http
            .get(app.url(path))
            .header("cookie", format!("__Host-sid={sid}"))
            .header("x-forwarded-for", address)
            .send()
    };
    // Inside the touch window: a status read from elsewhere changes nothing.
    let mut db = app.db().await;
    let before = data_version(&mut db).await;
    let status = from("203.0.113.9", "/api/session_status")
        .await
        .expect("GET");
    assert_eq!(status.status(), StatusCode::OK);
    let deadlines: serde_json::Value = status.json().await.expect("JSON");
    assert_eq!(data_version(&mut db).await, before, "a status read wrote");

    app.clock.advance(60);
    let status = from("203.0.113.9", "/api/session_status")
        .await
        .expect("GET");
    let again: serde_json::Value = status.json().await.expect("JSON");
    assert_eq!(
        again["idle_expires_at"], deadlines["idle_expires_at"],
        "the status read moved the deadline"
    );
    assert_eq!(data_version(&mut db).await, before, "a status read wrote");
    for address in ["203.0.113.9", "2001:db8::7", "203.0.113.9", "2001:db8::7"] {
        let res = from(address, "/account").await.expect("GET");
        assert_eq!(res.status(), StatusCode::OK);
    }
    let noted = app
        .audit_events()
        .await
        .iter()
        .filter(|e| *e == "address_changed/success")
        .count();
    assert_eq!(noted, 1, "noted once per touch interval, not per flip");
}
