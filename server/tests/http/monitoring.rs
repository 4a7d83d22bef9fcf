//! The audit log, the sessions page and the activity page (issue 12),
//! from the outside.

use reqwest::StatusCode;
use sqlx::Row;

use crate::helpers::{new_sid, spawn_app, spawn_app_with, PASSWORD};

fn between<'a>(html: &'a str, start: &str, end: &str) -> Vec<&'a str> {
    html.split(start)
        .skip(1)
        .filter_map(|rest| rest.split(end).next())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_events_are_audited_with_client_and_no_session_secret() {
    let app = spawn_app().await;
    app.register("alice").await;
    let res = app
        .post_form(
            "/api/login",
            &[("username", "alice"), ("password", "not the password")],
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let sid = app.login("alice", None).await;
    let res = app
        .post_form("/api/step_up", &[("secret", PASSWORD)], Some(&sid))
        .await;
    let sid = new_sid(&res);
    let res = app.post_form("/api/logout", &[], Some(&sid)).await;
    assert!(res.status().is_success() || res.status().is_redirection());

    let mut db = app.db().await;
    let rows = sqlx::query(
        "SELECT event, outcome, user_id, username, session_hash, ip, user_agent, details \
         FROM audit_events ORDER BY id",
    )
    .fetch_all(&mut db)
    .await
    .expect("events");
    let seen: Vec<(String, String)> = rows
        .iter()
        .map(|r| (r.get::<String, _>("event"), r.get::<String, _>("outcome")))
        .collect();
    let expected = [
        ("registered", "success"),
        ("sign_in", "failure"),
        ("sign_in", "success"),
        ("step_up", "success"),
        ("sign_out", "success"),
    ];
    for (event, outcome) in expected {
        assert!(
            seen.contains(&(event.to_owned(), outcome.to_owned())),
            "{event}/{outcome} missing from {seen:?}"
        );
    }
    let storage_key = {
        use tower_sessions::session::Id;
        let id: Id = sid.parse().expect("a session ID");
        app::ssr::session::id::storage_key(&id)
    };
    for row in &rows {
        assert_eq!(
            row.get::<Option<String>, _>("ip").as_deref(),
            Some("127.0.0.1")
        );
        assert!(row
            .get::<Option<String>, _>("user_agent")
            .is_some_and(|ua| ua.contains("Chrome/131")));
        let hash: Option<Vec<u8>> = row.get("session_hash");
        assert_ne!(
            hash.as_deref(),
            Some(&storage_key[..]),
            "never the storage key"
        );
        let details: String = row.get("details");
        assert!(!details.contains(&sid), "never the session ID");
        assert!(!details.contains(PASSWORD));
    }
    // The failed sign-in names who was targeted; the sign-out has the
    // session's keyed hash.
    let failed = &rows[1];
    assert_eq!(
        failed.get::<Option<String>, _>("username").as_deref(),
        Some("alice")
    );
    let sign_out = rows.last().expect("rows");
    assert_eq!(
        sign_out
            .get::<Option<Vec<u8>>, _>("session_hash")
            .map(|h| h.len()),
        Some(32)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sessions_page_lists_devices_and_ends_one() {
    let app = spawn_app().await;
    let mine = app.registered_and_logged_in("alice").await;
    let other = app.login("alice", None).await;
    let page = app.page("/account/sessions", &mine).await;
    assert_eq!(page.matches("class=\"session\"").count(), 2, "{page}");
    assert!(page.contains("Chrome 131 on Linux"), "{page}");
    assert_eq!(page.matches("(this device)").count(), 1);
    assert!(
        !page.contains(&mine) && !page.contains(&other),
        "no session ID in the page"
    );
    let handles = between(&page, "name=\"handle\" value=\"", "\"");
    assert_eq!(handles.len(), 1, "only the other session can be ended here");
    let res = app
        .post_form(
            "/api/session_revoke",
            &[("handle", handles[0])],
            Some(&mine),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(!app.is_signed_in(&other).await, "ended on its next request");
    assert!(app.is_signed_in(&mine).await);
    // An unknown or stale handle changes nothing.
    let res = app
        .post_form(
            "/api/session_revoke",
            &[("handle", handles[0])],
            Some(&mine),
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // Another user's handle is not theirs to end.
    let bob = app.registered_and_logged_in("bob").await;
    let bob_page = app.page("/account/sessions", &bob).await;
    assert!(between(&bob_page, "name=\"handle\" value=\"", "\"").is_empty());
    let mut db = app.db().await;
    let revoked: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_events WHERE event = 'session_revoked' AND outcome = 'success'",
    )
    .fetch_one(&mut db)
    .await
    .expect("count");
    assert_eq!(revoked, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_everywhere_else_needs_a_step_up() {
    let app = spawn_app().await;
    let mine = app.registered_and_logged_in("alice").await;
    let second = app.login("alice", None).await;
    let third = app.login("alice", None).await;
    let res = app
        .post_form("/api/sessions_end_others", &[], Some(&mine))
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(app.is_signed_in(&second).await, "nothing changed");
    let res = app
        .post_form("/api/step_up", &[("secret", PASSWORD)], Some(&mine))
        .await;
    let mine = new_sid(&res);
    let res = app
        .post_form("/api/sessions_end_others", &[], Some(&mine))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(!app.is_signed_in(&second).await);
    assert!(!app.is_signed_in(&third).await);
    assert!(app.is_signed_in(&mine).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_activity_page_shows_the_users_own_events() {
    let app = spawn_app().await;
    let alice = app.registered_and_logged_in("alice").await;
    let bob = app.registered_and_logged_in("bob").await;
    let _ = app
        .post_form(
            "/api/login",
            &[("username", "bob"), ("password", "wrong")],
            None,
        )
        .await;
    let page = app.page("/account/activity", &alice).await;
    assert!(page.contains("Sign-in"), "{page}");
    assert!(page.contains("Chrome 131 on Linux"));
    assert!(page.contains("127.0.0.1"));
    assert!(
        !page.contains("(failed)"),
        "bob's failure is not alice's: {page}"
    );
    let page = app.page("/account/activity", &bob).await;
    assert!(page.contains("Sign-in (failed)"), "{page}");
    let res = app.get("/account/activity", None).await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "visitors sign in first"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_audit_events_are_deleted_by_the_clean_up() {
    let app = spawn_app_with(|s| {
        s.session.cleanup_interval_secs = 1;
        s.audit.retention_days = 90;
    })
    .await;
    app.register("alice").await;
    let mut db = app.db().await;
    assert_eq!(count(&mut db).await, 1);
    app.clock.advance(89 * 86_400);
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    assert_eq!(count(&mut db).await, 1, "kept within the retention");
    app.clock.advance(2 * 86_400);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while count(&mut db).await > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(count(&mut db).await, 0, "deleted after 90 days");
}

async fn count(db: &mut sqlx::AnyConnection) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_events")
        .fetch_one(db)
        .await
        .expect("count")
}

async fn get_as(app: &crate::helpers::TestApp, path: &str, sid: &str, user_agent: &str) -> u16 {
    app.http
        .get(app.url(path))
        .header("cookie", format!("__Host-sid={sid}"))
        .header("user-agent", user_agent)
        .send()
        .await
        .expect("GET")
        .status()
        .as_u16()
}

const FIREFOX_ON_LINUX: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const CHROME_132_ON_LINUX: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 \
     (KHTML, like Gecko) Chrome/132.0.0.0 Safari/537.36";

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

async fn alerts(app: &crate::helpers::TestApp) -> Vec<String> {
    let mut db = app.db().await;
    let details: Vec<String> =
        sqlx::query_scalar("SELECT details FROM audit_events WHERE event = 'alert' ORDER BY id")
            .fetch_all(&mut db)
            .await
            .expect("alerts");
    details
        .iter()
        .map(|d| {
            let d: serde_json::Value = serde_json::from_str(d).expect("JSON details");
            d["kind"].as_str().unwrap_or_default().to_owned()
        })
        .collect()
}

async fn sign_in_as(app: &crate::helpers::TestApp, username: &str, user_agent: &str) -> u16 {
    app.http
        .post(app.url("/api/login"))
        .header("user-agent", user_agent)
        .form(&[("username", username), ("password", PASSWORD)])
        .send()
        .await
        .expect("POST")
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_failures_raises_one_alert_and_a_success_after_them_another() {
    let app = spawn_app_with(|s| {
        s.alerts.failed_sign_ins_per_account = 3;
        s.alerts.failures_before_success = 3;
    })
    .await;
    app.register("alice").await;
    for _ in 0..5 {
        let res = app
            .post_form(
                "/api/login",
                &[("username", "alice"), ("password", "wrong-one")],
                None,
            )
            .await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        alerts(&app).await,
        vec!["failed_sign_in_burst".to_owned()],
        "once per burst"
    );
    app.login("alice", None).await;
    assert_eq!(
        alerts(&app).await,
        vec![
            "failed_sign_in_burst".to_owned(),
            "success_after_failures".to_owned()
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_from_a_new_browser_and_system_raises_an_alert_the_user_sees() {
    let app = spawn_app().await;
    app.register("alice").await;
    app.login("alice", None).await;
    app.login("alice", None).await;
    assert!(
        alerts(&app).await.is_empty(),
        "the first device, then the same one"
    );
    assert_eq!(sign_in_as(&app, "alice", FIREFOX_ON_LINUX).await, 200);
    assert_eq!(alerts(&app).await, vec!["new_device".to_owned()]);
    let sid = app.login("alice", None).await;
    let page = app.page("/account/activity", &sid).await;
    assert!(page.contains("Security alert"), "{page}");
    // And at the top of the account page, on every device, until dismissed.
    let page = app.page("/account", &sid).await;
    assert!(page.contains("id=\"device-notice\""), "{page}");
    assert!(page.contains("Firefox") && page.contains("Linux"), "{page}");
    let res = app
        .post_html_form("/api/dismiss_device_notice", &[], Some(&sid))
        .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let page = app.page("/account", &sid).await;
    assert!(!page.contains("id=\"device-notice\""), "dismissed: {page}");
    // A cross-site post cannot dismiss it for the user.
    assert_eq!(sign_in_as(&app, "alice", CHROME_ON_WINDOWS).await, 200);
    let res = app
        .http
        .post(app.url("/api/dismiss_device_notice"))
        .header("cookie", format!("__Host-sid={sid}"))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .expect("POST");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let page = app.page("/account", &sid).await;
    assert!(page.contains("Windows"), "still shown: {page}");
}

const CHROME_ON_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
     (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_made_and_ended_fast_raise_an_alert() {
    let app = spawn_app_with(|s| s.alerts.session_churn_per_user = 4).await;
    app.register("alice").await;
    for _ in 0..2 {
        let sid = app.login("alice", None).await;
        let _ = app.post_form("/api/logout", &[], Some(&sid)).await;
    }
    assert_eq!(alerts(&app).await, Vec::<String>::new());
    app.login("alice", None).await;
    assert_eq!(alerts(&app).await, vec!["rapid_sessions".to_owned()]);
}

/// A local webhook receiver: each POSTed body arrives on the channel.
async fn webhook_receiver() -> (String, tokio::sync::mpsc::Receiver<String>) {
    use axum::{routing::post, Router};
    let (sender, receiver) = tokio::sync::mpsc::channel::<String>(16);
    let app = Router::new().route(
        "/hook",
        post(move |body: String| {
            let sender = sender.clone();
            async move {
                let _ = sender.send(body).await;
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}/hook"), receiver)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_are_posted_to_the_webhook() {
    let (url, mut received) = webhook_receiver().await;
    let app = spawn_app_with(move |s| s.alerts.webhook_url = url).await;
    let sid = app.registered_and_logged_in("alice").await;
    assert_eq!(get_as(&app, "/account", &sid, FIREFOX_ON_LINUX).await, 303);
    let body = tokio::time::timeout(std::time::Duration::from_secs(5), received.recv())
        .await
        .expect("the webhook was called")
        .expect("a body");
    let alert: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(alert["alert"], "session_browser_changed");
    assert_eq!(alert["severity"], "high");
    assert!(!body.contains(&sid), "no session ID in the alert");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_webhook_does_not_slow_sign_in() {
    // Accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", silent.local_addr().expect("address"));
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let app = spawn_app_with(move |s| {
        s.alerts.webhook_url = url;
        s.alerts.failures_before_success = 1;
    })
    .await;
    app.register("alice").await;
    for _ in 0..3 {
        let _ = app
            .post_form(
                "/api/login",
                &[("username", "alice"), ("password", "wrong")],
                None,
            )
            .await;
        let started = std::time::Instant::now();
        app.login("alice", None).await;
        assert!(
            started.elapsed() < std::time::Duration::from_secs(3),
            "a sign-in that raises an alert waits for no webhook: {:?}",
            started.elapsed()
        );
    }
    assert_eq!(
        alerts(&app)
            .await
            .iter()
            .filter(|a| *a == "success_after_failures")
            .count(),
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_in_flight_never_bring_a_revoked_session_back() {
    use futures::future::join_all;
    let app = spawn_app().await;
    let mine = app.registered_and_logged_in("alice").await;
    for round in 0..5 {
        let other = app.login("alice", None).await;
        // Past the touch window, so every request of the other session
        // tries to write (a touch, and a profile save that changes data).
        app.clock.advance(61);
        let page = app.page("/account/sessions", &mine).await;
        let handle = between(&page, "name=\"handle\" value=\"", "\"")
            .first()
            .map(|h| (*h).to_owned())
            .expect("the other session");
        let (app, other) = (&app, &other);
        let readers = (0..12).map(|_| app.get("/account", Some(other)));
        let profile_form = [("display_name", "in flight"), ("about", "")];
        let writer = app.post_form("/api/profile", &profile_form, Some(other));
        let revoke_form = [("handle", handle.as_str())];
        let revoke = app.post_form("/api/session_revoke", &revoke_form, Some(&mine));
        let (_, _, revoked) = tokio::join!(join_all(readers), writer, revoke);
        assert_eq!(revoked.status(), StatusCode::OK, "round {round}");
        assert!(
            !app.is_signed_in(other).await,
            "round {round}: the revoked session came back"
        );
        assert!(app.is_signed_in(&mine).await, "round {round}");
    }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_sessions_are_audited_by_the_clean_up() {
    let app = spawn_app_with(|s| s.session.cleanup_interval_secs = 1).await;
    let sid = app.registered_and_logged_in("alice").await;
    let idle = app.state.settings.session.idle_timeout_secs;
    app.clock.advance(i64::try_from(idle).expect("secs") + 1);
    let mut db = app.db().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut rows = Vec::new();
    while rows.is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        rows = sqlx::query(
            "SELECT user_id, ip, user_agent, details, session_hash FROM audit_events \
             WHERE event = 'session_expired'",
        )
        .fetch_all(&mut db)
        .await
        .expect("events");
    }
    assert_eq!(rows.len(), 1, "the signed-in session only");
    assert!(rows[0].get::<Option<i64>, _>("user_id").is_some());
    assert!(rows[0]
        .get::<String, _>("details")
        .contains("\"reason\":\"idle\""));
    assert_eq!(rows[0].get::<String, _>("ip"), "127.0.0.1");
    assert!(rows[0].get::<Option<String>, _>("user_agent").is_some());
    let hash: Vec<u8> = rows[0].get("session_hash");
    assert_eq!(hash.len(), 32);
    assert!(
        !String::from_utf8_lossy(&hash).contains(&sid),
        "never the ID itself"
    );
    assert!(!app.is_signed_in(&sid).await);
}
