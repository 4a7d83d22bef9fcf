//! Security headers on every response and the CSP nonce (issue 13).

use reqwest::StatusCode;

use crate::helpers::*;

const EXPECTED: [(&str, &str); 6] = [
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    ("x-frame-options", "DENY"),
    ("cache-control", ""),
];

fn assert_hardened(res: &reqwest::Response, what: &str) {
    let headers = res.headers();
    for (name, value) in EXPECTED {
        let got = headers
            .get(name)
            .unwrap_or_else(|| panic!("{what}: no {name}"))
            .to_str()
            .expect("ASCII");
        assert!(value.is_empty() || got == value, "{what}: {name}: {got}");
    }
    let permissions = headers
        .get("permissions-policy")
        .unwrap_or_else(|| panic!("{what}: no permissions-policy"))
        .to_str()
        .expect("ASCII");
    assert!(
        permissions.contains("camera=()") && permissions.contains("geolocation=()"),
        "{what}: {permissions}"
    );
    assert!(
        !permissions.contains("publickey-credentials"),
        "passkeys stay allowed"
    );
    let csp = headers
        .get("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no CSP"))
        .to_str()
        .expect("ASCII");
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("object-src 'none'"),
        "{what}: {csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
    assert!(headers.get("server").is_none(), "{what}: no Server banner");
    assert!(
        headers.get("x-tessera-instance").is_none(),
        "{what}: no instance name unless [server] instance_header asks"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_response_carries_the_security_headers() {
    let app = spawn_app_with(|s| s.limits.max_body_bytes = 1024).await;
    let sid = app.registered_and_logged_in("alice").await;

    let page = app.get("/about", None).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_hardened(&page, "a page");
    let account = app.get("/account", Some(&sid)).await;
    assert_eq!(account.status(), StatusCode::OK);
    assert_hardened(&account, "a signed-in page");

    let refused = app
        .post_form(
            "/api/login",
            &[("username", "alice"), ("password", "not her password 1")],
            None,
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_hardened(&refused, "a server function's error");
    let status = app.get("/api/session_status", Some(&sid)).await;
    assert_eq!(status.status(), StatusCode::OK);
    assert_hardened(&status, "a server function");

    let file = app.get("/favicon.svg", None).await;
    assert_eq!(file.status(), StatusCode::OK);
    assert_hardened(&file, "a static file");
    let missing = app.get("/no/such/page", None).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_hardened(&missing, "the 404 page");
    let too_big = app
        .post_form("/api/login", &[("username", &"a".repeat(4096))], None)
        .await;
    assert_eq!(too_big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_hardened(&too_big, "a 413");
    let health = app.get("/health", None).await;
    assert_hardened(&health, "the health check");
    // Only pages carry inline scripts, so only pages get a nonce.
    for res in [&health, &status, &file] {
        let csp = res.headers()["content-security-policy"]
            .to_str()
            .expect("ASCII");
        assert!(!csp.contains("'nonce-"), "{csp}");
    }
    let page_csp = account.headers()["content-security-policy"]
        .to_str()
        .expect("ASCII");
    assert!(page_csp.contains("'nonce-"), "{page_csp}");
}

fn nonce_of(res: &reqwest::Response) -> String {
    let csp = res
        .headers()
        .get("content-security-policy")
        .expect("CSP")
        .to_str()
        .expect("ASCII")
        .to_owned();
    let start = csp.find("'nonce-").expect("a nonce") + "'nonce-".len();
    csp[start..]
        .split('\'')
        .next()
        .expect("closing quote")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nonce_is_fresh_per_response_and_on_every_inline_script() {
    let app = spawn_app().await;
    let mut seen = std::collections::HashSet::new();
    for path in ["/about", "/about", "/login", "/no/such/page"] {
        let res = app.get(path, None).await;
        let nonce = nonce_of(&res);
        assert!(nonce.len() >= 22, "128 bits: {nonce}");
        assert!(seen.insert(nonce.clone()), "a fresh nonce per response");
        let html = res.text().await.expect("body");
        let scripts: Vec<&str> = html.split("<script").skip(1).collect();
        assert!(!scripts.is_empty(), "{path}: Leptos writes inline scripts");
        for script in scripts {
            let tag = script.split('>').next().unwrap_or_default();
            assert!(
                tag.contains(&format!("nonce=\"{nonce}\"")),
                "{path}: a script without this response's nonce: <script{tag}>"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hsts_only_on_https_answers_as_a_trusted_proxy_reports_them() {
    let hsts_of = |res: &reqwest::Response| {
        res.headers()
            .get("strict-transport-security")
            .map(|v| v.to_str().expect("ASCII").to_owned())
    };
    let direct = spawn_app().await;
    let plain = direct.get("/about", None).await;
    assert_eq!(hsts_of(&plain), None, "not over plain HTTP");
    let spoofed = direct
        .http
        .get(direct.url("/about"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .expect("GET");
    assert_eq!(
        hsts_of(&spoofed),
        None,
        "an untrusted peer's header is ignored"
    );

    let proxied = spawn_app_with(|s| s.proxy.trusted = "127.0.0.1/32".to_owned()).await;
    let res = proxied
        .http
        .get(proxied.url("/about"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .expect("GET");
    assert_eq!(
        hsts_of(&res).as_deref(),
        Some("max-age=63072000; includeSubDomains")
    );
}
