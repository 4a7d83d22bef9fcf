//! Secrets never reach the logs (OWASP Logging Cheat Sheet; ASVS 7.x / 16.x:
//! session identifiers and credentials are not logged).
//!
//! Its own test binary, because it installs the process-wide log
//! subscriber: everything at TRACE level from every crate (ours, axum,
//! hyper, tower-sessions, sqlx, leptos) goes into one buffer while a user
//! registers, fails a sign-in, signs in, uses the session and signs out;
//! then the buffer is searched for the raw session IDs, the passwords and
//! the stored form of the IDs.

use testkit as helpers;

use std::io::Write;
use std::sync::{Arc, Mutex};

use app::ssr::session::id::storage_key;
use helpers::{spawn_app, PASSWORD};
use reqwest::StatusCode;
use tower_sessions::session::Id;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut buffer) = self.0.lock() {
            buffer.extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_session_id_or_password_is_ever_logged() {
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let app = spawn_app().await;
    app.register("alice").await;
    let wrong = "Wrong horse battery 42 staple";
    let refused = app
        .post_form(
            "/api/login",
            &[("username", "alice"), ("password", wrong)],
            None,
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

    // An ID planted before sign-in (fixation attempt), then the real one.
    let planted = "AAAAAAAAAAAAAAAAAAAAAA";
    let sid = app.login("alice", Some(planted)).await;
    assert!(app.is_signed_in(&sid).await);
    let extended = app.post_form("/api/extend_session", &[], Some(&sid)).await;
    assert_eq!(extended.status(), StatusCode::OK);
    let status = app.get("/api/session_status", Some(&sid)).await;
    assert_eq!(status.status(), StatusCode::OK);
    let out = app.post_form("/api/logout", &[], Some(&sid)).await;
    assert!(out.status().is_success() || out.status().is_redirection());
    assert!(!app.is_signed_in(&sid).await, "replay after logout");

    // Two-step verification: the secret and the recovery codes go through
    // requests, the session and the database. (A 6-digit TOTP code is not
    // searched for: any timestamp's microseconds could match it.)
    let sid = app.login("alice", None).await;
    let res = app
        .post_form("/api/step_up", &[("secret", PASSWORD)], Some(&sid))
        .await;
    let sid = helpers::session_set_cookie(res.headers())
        .expect("rotated")
        .value;
    // An API access token, used, then refused once tampered with.
    let minted: serde_json::Value = app
        .post_form("/api/token", &[], Some(&sid))
        .await
        .json()
        .await
        .expect("a token");
    let token = minted["access_token"].as_str().expect("token").to_owned();
    for bearer in [token.clone(), format!("{token}x")] {
        app.http
            .get(app.url("/api/v1/me"))
            .bearer_auth(bearer)
            .send()
            .await
            .expect("GET /api/v1/me");
    }
    app.post_form("/api/mfa_begin", &[], Some(&sid)).await;
    let page = app.page("/account/security", &sid).await;
    let shown = page
        .split("id=\"totp-secret\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("the secret is shown")
        .replace(' ', "");
    let bytes = totp_rs::Secret::Encoded(shown.clone())
        .to_bytes()
        .expect("base32");
    let secret = app::ssr::mfa::totp::TotpSecret::from_bytes(bytes.clone()).expect("20 bytes");
    use app::ssr::clock::Clock;
    let code = secret
        .code_at_step(app.clock.now().div_euclid(30))
        .expect("code");
    let res = app
        .post_form("/api/mfa_confirm", &[("code", &code)], Some(&sid))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let sid = helpers::session_set_cookie(res.headers())
        .expect("rotated")
        .value;
    let page = app.page("/account/security", &sid).await;
    let recovery_code = page
        .split("<li><code>")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("codes shown")
        .to_owned();
    let secret_hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();

    let text = logs.text();
    for (what, secret) in [
        ("the TOTP secret (base32)", shown.as_str()),
        ("the TOTP secret (hex)", secret_hex.as_str()),
        ("a recovery code", recovery_code.as_str()),
        (
            "an access token's signature",
            token.rsplit('.').next().unwrap_or(&token),
        ),
        (
            "an access token's claims",
            token.split('.').nth(1).unwrap_or(&token),
        ),
    ] {
        assert!(!text.contains(secret), "{what} appears in the logs");
    }
    // The capture works: the requests and the session queries are there.
    assert!(text.contains("/api/login"), "no request was logged");
    assert!(text.contains("sessions"), "no session query was logged");

    let id: Id = sid.parse().expect("the cookie holds a session ID");
    // `Id`'s Debug form is the number in decimal: `Id(1234...)`.
    let decimal = id.0.to_string();
    let stored_hex: String = storage_key(&id)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    for (what, secret) in [
        ("the session ID", sid.as_str()),
        ("the planted session ID", planted),
        (
            "the session ID in decimal (its Debug form)",
            decimal.as_str(),
        ),
        ("the password", PASSWORD),
        ("the wrong password", wrong),
        ("the stored session key", stored_hex.as_str()),
    ] {
        assert!(
            !text.contains(secret),
            "{what} appears in the logs ({} bytes captured)",
            text.len()
        );
    }
}
