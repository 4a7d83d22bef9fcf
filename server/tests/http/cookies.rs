use std::collections::HashSet;

use crate::helpers::*;
use reqwest::header::SET_COOKIE;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_cookie_has_every_secure_attribute() {
    let app = spawn_app().await;
    app.register("alice").await;
    let res = app
        .post_form(
            "/api/login",
            &[("username", "alice"), ("password", PASSWORD)],
            None,
        )
        .await;
    let cookie = session_set_cookie(res.headers()).expect("session cookie");

    assert!(cookie.has("Secure"), "{cookie:?}");
    assert!(cookie.has("HttpOnly"), "{cookie:?}");
    assert_eq!(cookie.attr("SameSite").as_deref(), Some("Strict"));
    assert_eq!(cookie.attr("Path").as_deref(), Some("/"));
    assert_eq!(
        cookie.attr("Domain"),
        None,
        "a __Host- cookie has no Domain"
    );
    assert_eq!(
        cookie.max_age(),
        Some(1800),
        "Max-Age matches the idle timeout"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_site_lax_is_a_setting_and_changes_nothing_else() {
    let app = spawn_app_with(|s| s.session.same_site = app::ssr::config::SameSitePolicy::Lax).await;
    app.register("alice").await;
    let res = app
        .post_form(
            "/api/login",
            &[("username", "alice"), ("password", PASSWORD)],
            None,
        )
        .await;
    let cookie = session_set_cookie(res.headers()).expect("session cookie");
    assert_eq!(cookie.attr("SameSite").as_deref(), Some("Lax"));
    assert!(cookie.has("Secure") && cookie.has("HttpOnly"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_ids_carry_128_random_bits() {
    let app = spawn_app().await;
    app.register("alice").await;
    let mut ids = HashSet::new();
    let (mut any_set, mut any_clear) = (0u128, 0u128);
    for _ in 0..40 {
        let sid = app.login("alice", None).await;
        assert_eq!(sid.len(), 22, "22 base64url characters = 16 bytes");
        assert!(sid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let bits = decode_id(&sid);
        any_set |= bits;
        any_clear |= !bits;
        assert!(ids.insert(sid), "IDs never repeat");
    }
    // Over 40 IDs every bit position takes both values: no fixed or
    // counter-like part (the chance of a false failure is 128 * 2^-39).
    assert_eq!(any_set, u128::MAX);
    assert_eq!(any_clear, u128::MAX);
}

fn decode_id(sid: &str) -> u128 {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut acc: u128 = 0;
    let mut bits = 0;
    let mut out = Vec::new();
    for c in sid.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c).expect("base64url") as u128;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    assert_eq!(out.len(), 16);
    u128::from_le_bytes(out.try_into().expect("16 bytes"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_pages_create_no_session_and_set_no_cookie() {
    let app = spawn_app().await;
    for path in ["/", "/login", "/register", "/health"] {
        let res = app.get(path, None).await;
        assert!(res.status().is_success(), "{path}: {}", res.status());
        assert!(
            res.headers().get(SET_COOKIE).is_none(),
            "{path} set a cookie"
        );
    }
    assert_eq!(app.session_rows().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_ok() {
    let app = spawn_app().await;
    let res = app.get("/health", None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.expect("body"), "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authenticated_responses_are_never_cached() {
    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("alice").await;
    for res in [
        app.get("/account", Some(&sid)).await,
        app.post_form("/api/account", &[], Some(&sid)).await,
    ] {
        assert_eq!(res.headers()["cache-control"], "no-store");
    }
}
