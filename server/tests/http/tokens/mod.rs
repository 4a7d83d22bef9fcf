//! API access tokens (issue 14): minted after a step-up, accepted on
//! `/api/v1/me` only while the sign-in lives, and every forged or broken
//! token refused with 401 and `WWW-Authenticate: Bearer error="invalid_token"`.

mod keys;
mod lifetime;
mod minting;
mod validation;

use app::ssr::clock::Clock;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::header::WWW_AUTHENTICATE;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{new_sid, spawn_app, spawn_app_with, TestApp};

/// Steps of these tests, on the shared app (`testkit::TestApp`).
pub(crate) trait TokenSteps {
    async fn signed_in_with_token(&self, username: &str) -> (String, String);
    async fn mint(&self, sid: &str) -> String;
    async fn jwks(&self) -> Value;
    async fn me(&self, token: &str) -> reqwest::Response;
    fn key_file(&self) -> (String, String);
}

impl TokenSteps for TestApp {
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
