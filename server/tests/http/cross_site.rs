use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_site_sign_in_post_is_refused() {
    let app = spawn_app().await;
    app.register("alice").await;
    let form = [("username", "alice"), ("password", PASSWORD)];

    let res = app
        .http
        .post(app.url("/api/login"))
        .header("origin", "http://evil.example")
        .form(&form)
        .send()
        .await
        .expect("POST");
    assert_eq!(res.status(), 403);
    assert!(session_set_cookie(res.headers()).is_none());
    assert_eq!(res.headers()["content-type"], "application/json");
    assert_eq!(res.text().await.expect("body"), "\"CrossSite\"");

    let res = app
        .http
        .post(app.url("/api/login"))
        .header("sec-fetch-site", "cross-site")
        .form(&form)
        .send()
        .await
        .expect("POST");
    assert_eq!(res.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_site_logout_cannot_end_a_session() {
    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("alice").await;
    let res = app
        .http
        .post(app.url("/api/logout"))
        .header("origin", "http://evil.example")
        .header("cookie", format!("__Host-sid={sid}"))
        .send()
        .await
        .expect("POST");
    assert_eq!(res.status(), 403);
    assert!(app.is_signed_in(&sid).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_origin_posts_are_accepted() {
    let app = spawn_app().await;
    app.register("alice").await;
    let res = app
        .http
        .post(app.url("/api/login"))
        .header("origin", &app.base)
        .header("sec-fetch-site", "same-origin")
        .form(&[("username", "alice"), ("password", PASSWORD)])
        .send()
        .await
        .expect("POST");
    assert_eq!(res.status(), 200);
}

/// Every server function the app registers, as the router serves them.
fn server_functions() -> Vec<String> {
    let mut paths: Vec<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.to_owned())
        .collect();
    paths.sort();
    paths
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_server_function_refuses_a_cross_site_post_and_changes_nothing() {
    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("alice").await;
    let functions = server_functions();
    assert!(functions.len() >= 20, "{functions:?}");
    let mut db = app.db().await;
    let before = data_version(&mut db).await;
    let audit_before = app.audit_events().await.len();
    for path in &functions {
        for (name, value) in [
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-site", "same-site"),
            ("origin", "http://evil.example"),
            ("origin", "https://127.0.0.1"),
        ] {
            let res = app
                .http
                .post(app.url(path))
                .header("cookie", format!("__Host-sid={sid}"))
                .header(name, value)
                .form(&[("username", "alice"), ("password", PASSWORD)])
                .send()
                .await
                .expect("POST");
            assert_eq!(res.status(), 403, "{path} with {name}: {value}");
            assert!(session_set_cookie(res.headers()).is_none(), "{path}");
        }
    }
    assert_eq!(data_version(&mut db).await, before, "nothing was written");
    assert_eq!(app.audit_events().await.len(), audit_before);
    assert!(app.is_signed_in(&sid).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_origin_is_another_origin_for_a_plain_http_server() {
    let app = spawn_app().await;
    app.register("alice").await;
    let host = app.base.trim_start_matches("http://").to_owned();
    for origin in [
        format!("https://{host}"),
        format!("http://{}:1", host.split(':').next().unwrap_or_default()),
    ] {
        let res = app
            .http
            .post(app.url("/api/login"))
            .header("origin", &origin)
            .form(&[("username", "alice"), ("password", PASSWORD)])
            .send()
            .await
            .expect("POST");
        assert_eq!(res.status(), 403, "{origin}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_get_route_changes_anything() {
    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("alice").await;
    let mut paths: Vec<String> = leptos_axum::generate_route_list(app::app::App)
        .iter()
        .map(|route| route.path().to_owned())
        .collect();
    paths.extend(
        [
            "/health",
            "/account/security/recovery-codes.txt",
            "/api/v1/me",
            "/.well-known/jwks.json",
            "/favicon.svg",
            "/no/such/page",
        ]
        .map(str::to_owned),
    );
    paths.extend(server_functions());
    assert!(paths.iter().any(|p| p == "/account/sessions"), "{paths:?}");
    let mut db = app.db().await;
    let before = data_version(&mut db).await;
    for path in &paths {
        for cookie in [Some(sid.as_str()), None] {
            let res = app.get(path, cookie).await;
            assert!(!res.status().is_server_error(), "{path}: {}", res.status());
        }
    }
    assert_eq!(data_version(&mut db).await, before, "a GET wrote");
    assert!(app.is_signed_in(&sid).await);
}
