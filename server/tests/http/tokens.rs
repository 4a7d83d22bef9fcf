//! API access tokens (issue 14): minted after a step-up, accepted on
//! `/api/v1/me` only while the sign-in lives, and every forged or broken
//! token refused with 401 and `WWW-Authenticate: Bearer error="invalid_token"`.

use app::ssr::clock::Clock;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::header::WWW_AUTHENTICATE;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{new_sid, spawn_app, spawn_app_with, TestApp};

impl TestApp {
    /// Register, sign in, step up, mint: (session cookie, token).
    async fn signed_in_with_token(&self, username: &str) -> (String, String) {
        let sid = self.registered_and_logged_in(username).await;
        let sid = self.step_up_with_password(&sid).await;
        let token = self.mint(&sid).await;
        (sid, token)
    }

    async fn mint(&self, sid: &str) -> String {
        let res = self.post_form("/api/token", &[], Some(sid)).await;
        assert_eq!(res.status(), StatusCode::OK, "POST /api/token");
        let body: Value = res.json().await.expect("json");
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], self.state.settings.jwt.ttl_secs);
        body["access_token"].as_str().expect("a token").to_owned()
    }

    async fn jwks(&self) -> Value {
        self.get("/.well-known/jwks.json", None)
            .await
            .json()
            .await
            .expect("jwks")
    }

    async fn me(&self, token: &str) -> reqwest::Response {
        self.http
            .get(self.url("/api/v1/me"))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET /api/v1/me")
    }

    /// The only key file of the test's key directory: (kid, PEM).
    fn key_file(&self) -> (String, String) {
        let dir = self.state.settings.jwt.key_dir.clone();
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .expect("key dir")
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        let path = files.first().expect("a key file");
        let kid = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("kid")
            .to_owned();
        (kid, std::fs::read_to_string(path).expect("PEM"))
    }
}

/// 401 with the invalid_token challenge naming `reason`.
async fn assert_refused(res: reqwest::Response, reason: &str, case: &str) {
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{case}");
    let challenge = res
        .headers()
        .get(WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        challenge.starts_with("Bearer ") && challenge.contains("error=\"invalid_token\""),
        "{case}: {challenge}"
    );
    assert!(challenge.contains(reason), "{case}: {challenge}");
    let body = res.text().await.expect("body");
    assert!(body.contains(reason), "{case}: {body}");
}

fn parts(token: &str) -> (Value, Value) {
    let mut it = token.split('.');
    let header = it.next().expect("header");
    let payload = it.next().expect("payload");
    let decode = |p: &str| -> Value {
        serde_json::from_slice(&B64.decode(p).expect("base64url")).expect("json")
    };
    (decode(header), decode(payload))
}

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
async fn the_token_ends_with_its_sign_in_not_with_a_rotation() {
    let app = spawn_app_with(|s| s.jwt.ttl_secs = 86_400).await;
    let (sid, token) = app.signed_in_with_token("alice").await;
    // A later step-up moves the session to a new ID: same sign-in.
    let sid = app.step_up_with_password(&sid).await;
    assert_eq!(
        app.me(&token).await.status(),
        StatusCode::OK,
        "after a rotation"
    );
    // Sign-out: the token dies with the session, long before its exp.
    let res = app.post_form("/api/logout", &[], Some(&sid)).await;
    assert!(res.status().is_success() || res.status().is_redirection());
    assert_refused(app.me(&token).await, "session has ended", "signed out").await;

    // Revoked from another device.
    let (_, token) = app.signed_in_with_token("bob").await;
    let other = app.login("bob", None).await;
    let other = app.step_up_with_password(&other).await;
    let res = app
        .post_form("/api/sessions_end_others", &[], Some(&other))
        .await;
    assert_eq!(res.status(), StatusCode::OK, "sign out everywhere else");
    assert_refused(app.me(&token).await, "session has ended", "revoked").await;

    // A password change ends every other session, and its tokens.
    let (_, token) = app.signed_in_with_token("carol").await;
    let other = app.login("carol", None).await;
    let other = app.step_up_with_password(&other).await;
    let new_password = "Another quartz ladle 42 orbit";
    let res = app
        .post_form(
            "/api/change_password",
            &[
                ("password", new_password),
                ("password_confirm", new_password),
            ],
            Some(&other),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK, "password changed");
    assert_refused(
        app.me(&token).await,
        "session has ended",
        "password changed",
    )
    .await;

    // Expiry: the session's idle deadline passes, the token is refused.
    let (_, token) = app.signed_in_with_token("dave").await;
    app.clock
        .advance(app.state.settings.session.idle_timeout_secs as i64 + 1);
    assert_refused(app.me(&token).await, "session has ended", "session expired").await;
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

/// ASVS 7.4.3: a change of credentials ends the access tokens of every
/// session of the user, the session that made the change included (its
/// cookie lives on, as a new sign-in whose new tokens work).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_credential_change_ends_the_tokens_of_the_session_that_made_it() {
    let app = spawn_app_with(|s| s.jwt.ttl_secs = 86_400).await;

    // The password, changed on the session that minted the token.
    let (sid, token) = app.signed_in_with_token("alice").await;
    let new_password = "Another quartz ladle 42 orbit";
    let res = app
        .post_form(
            "/api/change_password",
            &[
                ("password", new_password),
                ("password_confirm", new_password),
            ],
            Some(&sid),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK, "password changed");
    let sid = new_sid(&res);
    assert_refused(app.me(&token).await, "session has ended", "password").await;
    // The session goes on, and what it mints now works.
    assert!(app.is_signed_in(&sid).await);
    let fresh = app.mint(&sid).await;
    assert_eq!(app.me(&fresh).await.status(), StatusCode::OK);

    // Two-step verification turned on.
    let (sid, token) = app.signed_in_with_token("bob").await;
    let enrolled = app.enrol_session(&sid).await;
    assert_refused(app.me(&token).await, "session has ended", "MFA on").await;

    // New recovery codes, then MFA off: each after a step-up by code.
    let step_up = |sid: String| {
        let app = &app;
        let code = app.next_code(&enrolled.secret);
        async move {
            let res = app
                .post_form("/api/step_up", &[("secret", &code)], Some(&sid))
                .await;
            assert_eq!(res.status(), StatusCode::OK, "step-up by code");
            new_sid(&res)
        }
    };
    let sid = step_up(enrolled.sid.clone()).await;
    let token = app.mint(&sid).await;
    let res = app
        .post_form("/api/recovery_codes_renew", &[], Some(&sid))
        .await;
    assert_eq!(res.status(), StatusCode::OK, "codes renewed");
    let sid = new_sid(&res);
    assert_refused(app.me(&token).await, "session has ended", "new codes").await;
    let token = app.mint(&sid).await;
    let res = app.post_form("/api/mfa_disable", &[], Some(&sid)).await;
    assert_eq!(res.status(), StatusCode::OK, "MFA off");
    let sid = new_sid(&res);
    assert_refused(app.me(&token).await, "session has ended", "MFA off").await;

    // A passkey removed (one added is the same call, in
    // end2end/tests/passkeys.spec.ts: adding needs an authenticator).
    let user_id: i64 = {
        let mut db = app.db().await;
        let user_id = sqlx::query_scalar("SELECT id FROM users WHERE username = 'bob'")
            .fetch_one(&mut db)
            .await
            .expect("bob");
        sqlx::query(
            "INSERT INTO passkeys (id, user_id, credential_id, passkey, name, created_at) \
             VALUES (4242, $1, $2, '{}', 'old phone', 0)",
        )
        .bind(user_id)
        .bind(vec![7u8; 16])
        .execute(&mut db)
        .await
        .expect("a passkey row");
        user_id
    };
    assert!(user_id > 0);
    let token = app.mint(&sid).await;
    let res = app
        .post_form("/api/passkey_remove", &[("id", "4242")], Some(&sid))
        .await;
    assert_eq!(res.status(), StatusCode::OK, "passkey removed");
    let sid = new_sid(&res);
    assert_refused(app.me(&token).await, "session has ended", "passkey removed").await;
    assert!(app.is_signed_in(&sid).await);
}

/// Claims as we issue them, for forging.
fn claims(app: &TestApp, user_id: i64, sign_in: &str) -> Value {
    let now = app.clock.now();
    json!({
        "iss": "tessera", "aud": "tessera-api", "sub": user_id.to_string(),
        "iat": now, "nbf": now, "exp": now + 300, "jti": "forged-jti-000000000000", "sid": sign_in,
    })
}

fn header(alg: Algorithm, kid: &str) -> Header {
    let mut header = Header::new(alg);
    header.typ = Some("at+jwt".to_owned());
    header.kid = Some(kid.to_owned());
    header
}

fn sign(header: &Header, claims: &Value, pem: &str) -> String {
    let key = EncodingKey::from_ed_pem(pem.as_bytes()).expect("our key");
    jsonwebtoken::encode(header, claims, &key).expect("sign")
}

/// A JWT assembled by hand (for algorithms we must not be able to sign).
fn raw(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string()),
        B64.encode(signature)
    )
}

fn without(mut claims: Value, name: &str) -> Value {
    claims.as_object_mut().expect("object").remove(name);
    claims
}

fn with(mut claims: Value, name: &str, value: Value) -> Value {
    claims[name] = value;
    claims
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_broken_tokens_are_refused_and_a_valid_one_accepted() {
    let app = spawn_app().await;
    let (sid, token) = app.signed_in_with_token("alice").await;
    let (_, valid_claims) = parts(&token);
    let sign_in = valid_claims["sid"].as_str().expect("sid").to_owned();
    let user_id: i64 = valid_claims["sub"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("sub");
    let (kid, pem) = app.key_file();
    let good = claims(&app, user_id, &sign_in);
    let now = app.clock.now();

    // Our key, under its own kid.
    let ours = |claims: &Value| sign(&header(Algorithm::EdDSA, &kid), claims, &pem);
    // Our own signature over our own claims: accepted (the control case).
    let control = ours(&good);
    assert_eq!(app.me(&control).await.status(), StatusCode::OK, "control");

    let jwks: Value = app.jwks().await;
    // Public parts only: an Ed25519 JWK's private key would be "d".
    let key = &jwks["keys"][0];
    assert_eq!(
        (&key["kty"], &key["crv"], &key["alg"]),
        (&json!("OKP"), &json!("Ed25519"), &json!("EdDSA"))
    );
    assert!(key.get("d").is_none(), "no private key in the JWKS: {key}");
    let public_x = key["x"].as_str().expect("x").to_owned();
    let public_raw = B64.decode(&public_x).expect("raw key");

    // Another Ed25519 key, not ours, under our kid and under its own.
    let stranger_dir = tempfile::tempdir().expect("dir");
    let stranger_kid = app::ssr::tokens::jwt::create_key(stranger_dir.path(), now).expect("key");
    let stranger_pem =
        std::fs::read_to_string(stranger_dir.path().join(format!("{stranger_kid}.pem")))
            .expect("pem");

    let tampered = {
        let mut it = control.split('.');
        let (h, _, s) = (it.next().expect("h"), it.next(), it.next().expect("s"));
        let forged = with(good.clone(), "sub", json!((user_id + 1).to_string()));
        format!("{h}.{}.{s}", B64.encode(forged.to_string()))
    };
    let hs256_with_public_key = {
        let key = EncodingKey::from_secret(&public_raw);
        jsonwebtoken::encode(&header(Algorithm::HS256, &kid), &good, &key).expect("HS256")
    };
    let hs256_with_public_x = {
        let key = EncodingKey::from_secret(public_x.as_bytes());
        jsonwebtoken::encode(&header(Algorithm::HS256, &kid), &good, &key).expect("HS256")
    };

    let cases: Vec<(&str, String, &str)> = vec![
        (
            "alg none",
            raw(
                &json!({"alg": "none", "typ": "at+jwt", "kid": kid}),
                &good,
                b"",
            ),
            "malformed",
        ),
        (
            "HS256 keyed with the public key",
            hs256_with_public_key,
            "algorithm",
        ),
        (
            "HS256 keyed with the JWK's x",
            hs256_with_public_x,
            "algorithm",
        ),
        (
            "RS256",
            raw(
                &json!({"alg": "RS256", "typ": "at+jwt", "kid": kid}),
                &good,
                &[7u8; 256],
            ),
            "algorithm",
        ),
        (
            "expired",
            ours(&with(
                with(good.clone(), "exp", json!(now - 31)),
                "iat",
                json!(now - 400),
            )),
            "expired",
        ),
        (
            "nbf in the future",
            ours(&with(good.clone(), "nbf", json!(now + 60))),
            "not valid yet",
        ),
        ("no exp", ours(&without(good.clone(), "exp")), "no exp"),
        ("no nbf", ours(&without(good.clone(), "nbf")), "no nbf"),
        (
            "wrong iss",
            ours(&with(good.clone(), "iss", json!("evil"))),
            "issuer",
        ),
        (
            "wrong aud",
            ours(&with(good.clone(), "aud", json!("other-api"))),
            "audience",
        ),
        (
            "unknown kid",
            sign(
                &header(Algorithm::EdDSA, &stranger_kid),
                &good,
                &stranger_pem,
            ),
            "signing key is unknown",
        ),
        (
            "no kid",
            {
                let mut h = header(Algorithm::EdDSA, &kid);
                h.kid = None;
                sign(&h, &good, &pem)
            },
            "signing key is unknown",
        ),
        (
            "another key under our kid",
            sign(&header(Algorithm::EdDSA, &kid), &good, &stranger_pem),
            "signature is invalid",
        ),
        (
            "tampered payload, old signature",
            tampered,
            "signature is invalid",
        ),
        (
            "typ JWT (not an access token)",
            {
                let mut h = header(Algorithm::EdDSA, &kid);
                h.typ = Some("JWT".to_owned());
                sign(&h, &good, &pem)
            },
            "not an access token",
        ),
        (
            "a sign-in that does not exist",
            ours(&with(good.clone(), "sid", json!("nope"))),
            "session has ended",
        ),
        ("not a JWT at all", "abc".to_owned(), "malformed"),
        ("too long", "a".repeat(5000), "malformed"),
    ];
    for (case, token, reason) in cases {
        assert_refused(app.me(&token).await, reason, case).await;
    }

    // Signed out: the real token and the control are refused.
    app.post_form("/api/logout", &[], Some(&sid)).await;
    assert_refused(app.me(&token).await, "session has ended", "signed out").await;
    assert_refused(app.me(&control).await, "session has ended", "signed out").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_is_published_until_its_tokens_expire_then_refused() {
    let app = spawn_app().await;
    let (_, token) = app.signed_in_with_token("alice").await;
    let (old_kid, old_pem) = app.key_file();
    let (_, mut long_lived) = parts(&token);
    // A token of the old key that would outlive its publication.
    long_lived["exp"] = json!(app.clock.now() + 86_400);
    let long_lived = sign(&header(Algorithm::EdDSA, &old_kid), &long_lived, &old_pem);
    assert_eq!(app.me(&long_lived).await.status(), StatusCode::OK);

    let settings = &app.state.settings.jwt;
    let rotation = app::ssr::tokens::jwt::rotate(&settings.key_dir, app.clock.now(), settings)
        .expect("rotate");
    let kids = |jwks: Value| -> Vec<String> {
        jwks["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .map(|k| k["kid"].as_str().expect("kid").to_owned())
            .collect()
    };
    let jwks: Value = app.jwks().await;
    assert_eq!(kids(jwks), vec![old_kid.clone(), rotation.new_kid.clone()]);
    let new_token = {
        let sid = app.login("alice", None).await;
        let sid = app.step_up_with_password(&sid).await;
        app.mint(&sid).await
    };
    assert_eq!(
        parts(&new_token).0["kid"],
        rotation.new_kid.as_str(),
        "the new key signs"
    );
    assert_eq!(
        app.me(&token).await.status(),
        StatusCode::OK,
        "old key still published"
    );

    // One token lifetime and the leeway after the new key's date (a second
    // after the old key's: both were made within this second), the old key
    // is gone.
    app.clock.advance(1 + 300 + 30 + 1);
    let jwks: Value = app.jwks().await;
    assert_eq!(kids(jwks), vec![rotation.new_kid.clone()]);
    assert_refused(
        app.me(&long_lived).await,
        "signing key is unknown",
        "retired key",
    )
    .await;
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
