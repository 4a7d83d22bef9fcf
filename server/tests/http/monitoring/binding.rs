//! A session bound to its browser: another family is a stolen cookie; an update or a move is noted.

use super::*;

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
