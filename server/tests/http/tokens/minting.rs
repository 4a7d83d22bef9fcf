//! Minting: only after a step-up, and only with a key; the bearer API reads no cookie.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_needs_a_step_up_carries_the_claims_and_speaks_for_its_user() {
    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("alice").await;
    let res = app.post_form("/api/token", &[], Some(&sid)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "no step-up yet");
    assert!(res.text().await.expect("body").contains("StepUpRequired"));
    let res = app.post_form("/api/token", &[], None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "a visitor");

    let sid = app.step_up_with_password(&sid).await;
    let token = app.mint(&sid).await;
    let (header, claims) = parts(&token);
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["kid"], app.key_file().0.as_str());
    let now = app.clock.now();
    assert_eq!(claims["iss"], "tessera");
    assert_eq!(claims["aud"], "tessera-api");
    assert_eq!(claims["iat"], now);
    assert_eq!(claims["nbf"], now);
    assert_eq!(claims["exp"], now + 300);
    assert_eq!(claims["jti"].as_str().map(str::len), Some(22));
    let sign_in = claims["sid"].as_str().expect("sid");
    assert!(!sign_in.is_empty() && !sid.contains(sign_in) && !sign_in.contains(&sid));
    let mut db = app.db().await;
    let user_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = 'alice'")
        .fetch_one(&mut db)
        .await
        .expect("user");
    assert_eq!(claims["sub"], user_id.to_string());

    let res = app.me(&token).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let me: Value = res.json().await.expect("json");
    assert_eq!(me["username"], "alice");
    assert_eq!(me["user_id"], user_id);
    assert_eq!(me["token_expires_at"], now + 300);
    assert!(
        app.audit_events()
            .await
            .contains(&"access_token_issued/success".to_owned()),
        "minting is audited"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_bearer_token_gets_the_bare_challenge_and_a_cookie_is_not_enough() {
    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("alice").await;
    let res = app.get("/api/v1/me", Some(&sid)).await;
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "the cookie is not a credential here"
    );
    assert_eq!(
        res.headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok()),
        Some("Bearer realm=\"tessera\"")
    );
    for header in [
        "Basic YWxpY2U6eA==",
        "Bearer",
        "Bearer    ",
        "bearer not.a.jwt",
    ] {
        let res = app
            .http
            .get(app.url("/api/v1/me"))
            .header("authorization", header)
            .send()
            .await
            .expect("GET");
        assert_refused(res, "malformed", header).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_key_no_token_is_minted() {
    let app = spawn_app_with(|s| s.jwt.create_key_if_missing = false).await;
    let sid = app.registered_and_logged_in("alice").await;
    let sid = app.step_up_with_password(&sid).await;
    let res = app.post_form("/api/token", &[], Some(&sid)).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res
        .text()
        .await
        .expect("body")
        .contains("AccessTokensUnavailable"));
    let jwks: Value = app.jwks().await;
    assert_eq!(jwks, json!({ "keys": [] }));
}

/// The bearer API is its own route group: no cookie layer, no session
/// resolution. A session cookie sent along is neither read nor touched nor
/// sent back, and the answer is the token's alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bearer_api_never_reads_touches_or_sets_the_session_cookie() {
    let app = spawn_app_with(|s| s.jwt.ttl_secs = 86_400).await;
    let (sid, token) = app.signed_in_with_token("alice").await;
    let seen = app.last_seen().await;
    // Past the touch interval: a page would record activity now.
    app.clock
        .advance(app.state.settings.session.touch_interval_secs as i64 + 1);
    let res = app
        .http
        .get(app.url("/api/v1/me"))
        .bearer_auth(&token)
        .header("cookie", format!("__Host-sid={sid}"))
        .send()
        .await
        .expect("GET /api/v1/me");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers().get("set-cookie").is_none(),
        "no cookie sent back"
    );
    assert_eq!(app.last_seen().await, seen, "the session was not touched");
    // A cookie alone is still nothing there.
    let res = app
        .http
        .get(app.url("/api/v1/me"))
        .header("cookie", format!("__Host-sid={sid}"))
        .send()
        .await
        .expect("GET /api/v1/me");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers().get("set-cookie").is_none());
}
