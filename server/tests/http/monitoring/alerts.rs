//! Alert rules and the webhook.

use super::*;

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
    assert!(
        page.contains("<span class=\"badge severity-info\">Info</span> <span class=\"what\">New browser: Firefox 128 on Linux</span>"),
        "{page}"
    );
    // And at the top of the account page, on every device, until dismissed.
    let page = app.page("/account", &sid).await;
    assert!(page.contains("id=\"device-notice\""), "{page}");
    assert!(page.contains("Firefox") && page.contains("Linux"), "{page}");
    let notice = between(&page, "id=\"device-notice\"", "</div>")[0];
    assert!(
        notice.contains("<time datetime=\"20"),
        "when, as a time: {notice}"
    );
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
pub(crate) async fn webhook_receiver() -> (String, tokio::sync::mpsc::Receiver<String>) {
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
    // The same words as the activity page and /admin (issue 27).
    assert_eq!(
        alert["summary"],
        "A session was used from another browser or system and was ended \
         (Chrome 131 on Linux, then Firefox 128 on Linux)"
    );
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

/// Review E6: wrong second-factor codes for one account (sign-in or
/// step-up) raise one alert at the threshold; whoever sends them knows the
/// password. And the password step of a two-step sign-in is its own event:
/// the sign-in is recorded when the code completes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_codes_raise_an_alert_and_a_password_step_is_not_a_sign_in() {
    use crate::mfa::MfaSteps;
    let app = spawn_app_with(|s| s.alerts.failed_codes_per_account = 3).await;
    let enrolled = app.enrol("alice").await;
    let signed_in = |events: &[String]| events.iter().filter(|e| *e == "sign_in/success").count();
    let before = signed_in(&app.audit_events().await);

    let pending = app.password_step("alice").await;
    let events = app.audit_events().await;
    assert!(
        events.iter().any(|e| e == "password_verified/success"),
        "{events:?}"
    );
    assert_eq!(
        signed_in(&events),
        before,
        "the password step is not a sign-in"
    );
    for _ in 0..2 {
        let res = app.send_code(&pending, "totp", "000000").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    assert!(!alerts(&app).await.contains(&"code_guessing".to_owned()));
    let code = app.next_code(&enrolled.secret);
    let res = app.send_code(&pending, "totp", &code).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        signed_in(&app.audit_events().await),
        before + 1,
        "the code completed the sign-in"
    );
    // A wrong step-up code is the third: one alert.
    let sid = new_sid(&res);
    let res = app
        .post_form("/api/step_up", &[("secret", "000000")], Some(&sid))
        .await;
    assert!(res.status().is_client_error());
    let raised = alerts(&app).await;
    assert_eq!(
        raised.iter().filter(|k| *k == "code_guessing").count(),
        1,
        "{raised:?}"
    );
}
