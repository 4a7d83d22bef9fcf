//! Forged and broken tokens are refused; a valid one is accepted.

use super::*;

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
    let stranger_kid = app::ssr::tokens::keys::create_key(stranger_dir.path(), now).expect("key");
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
