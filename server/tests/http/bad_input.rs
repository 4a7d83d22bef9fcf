use reqwest::header::{CONTENT_TYPE, COOKIE};

use crate::helpers::*;

async fn register(app: &TestApp, username: &str, password: &str, confirm: &str) -> (u16, String) {
    let res = app
        .post_form(
            "/api/register",
            &[
                ("username", username),
                ("password", password),
                ("password_confirm", confirm),
            ],
            None,
        )
        .await;
    (res.status().as_u16(), res.text().await.expect("body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_explains_every_refusal_with_a_4xx() {
    let app = spawn_app().await;
    let long = "x".repeat(129);
    let cases = [
        ("ab", PASSWORD, PASSWORD, 400, "3 to 32"),
        (&*"a".repeat(33), PASSWORD, PASSWORD, 400, "3 to 32"),
        ("bad name", PASSWORD, PASSWORD, 400, "only use letters"),
        ("<script>", PASSWORD, PASSWORD, 400, "only use letters"),
        ("alice", "short", "short", 400, "at least 8"),
        ("alice", &long, &long, 400, "at most 128"),
        ("alice", "password123", "password123", 400, "too easy"),
        (
            "alice",
            "alice-Quartz-97-ladle",
            "alice-Quartz-97-ladle",
            400,
            "username",
        ),
        ("alice", PASSWORD, "something else", 400, "do not match"),
    ];
    for (username, password, confirm, status, message) in cases {
        let (got, body) = register(&app, username, password, confirm).await;
        assert_eq!(got, status, "{username:?}: {body}");
        assert!(body.contains(message), "{username:?}: {body}");
    }
    assert_eq!(register(&app, "  alice  ", PASSWORD, PASSWORD).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usernames_are_unique_case_insensitively() {
    let app = spawn_app().await;
    app.register("Alice").await;
    let (status, body) = register(&app, "alice", PASSWORD, PASSWORD).await;
    assert_eq!(status, 409);
    assert_eq!(body, "\"UsernameTaken\"");
    // And she signs in whatever the case she types.
    app.login("ALICE", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_and_malformed_fields_are_400_not_500() {
    let app = spawn_app().await;
    let res = app
        .post_form("/api/login", &[("username", "alice")], None)
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.text().await.expect("body"), "\"BadRequest\"");

    for body in [
        &b"%%%garbage=&&=="[..],
        &[0xff, 0xfe, 0x00, 0x80][..],
        &b"username[]=x&password[a]=y"[..],
    ] {
        let res = app
            .http
            .post(app.url("/api/login"))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body.to_vec())
            .send()
            .await
            .expect("POST");
        assert!(
            res.status().is_client_error(),
            "{:?}: {}",
            body,
            res.status()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_is_413_with_a_json_error() {
    let app = spawn_app().await;
    let huge = "x".repeat(64 * 1024);
    let res = app
        .post_form(
            "/api/login",
            &[("username", "alice"), ("password", &huge)],
            None,
        )
        .await;
    assert_eq!(res.status(), 413);
    assert_eq!(res.headers()[CONTENT_TYPE], "application/json");
    assert_eq!(res.text().await.expect("body"), "\"TooLarge\"");
}

/// A raw HTTP/1.1 exchange, for what reqwest will not send: a chunked body
/// with no Content-Length.
async fn raw_request(app: &TestApp, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = app.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    // The server may answer (and close) before it has read everything.
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_body_over_the_limit_is_413_not_400() {
    let app = spawn_app().await;
    let chunk = "x".repeat(8 * 1024);
    let mut request = format!(
        "POST /api/login HTTP/1.1\r\nHost: {}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        app.base.trim_start_matches("http://")
    );
    request.push_str(&format!("{:x}\r\nusername=alice&password=", 24));
    request.push_str("\r\n");
    for _ in 0..4 {
        request.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    request.push_str("0\r\n\r\n");

    let answer = raw_request(&app, request.as_bytes()).await;

    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.ends_with("\"TooLarge\""), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_chunked_body_is_read_as_usual() {
    let app = spawn_app().await;
    let body = "username=nobody&password=x";
    let request = format!(
        "POST /api/login HTTP/1.1\r\nHost: {}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         {:x}\r\n{body}\r\n0\r\n\r\n",
        app.base.trim_start_matches("http://"),
        body.len()
    );
    let answer = raw_request(&app, request.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_very_long_password_at_sign_in_is_refused_without_a_500() {
    let app = spawn_app().await;
    app.register("alice").await;
    let long = "y".repeat(10_000);
    let res = app
        .post_form(
            "/api/login",
            &[("username", "alice"), ("password", &long)],
            None,
        )
        .await;
    assert_eq!(res.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_session_cookies_count_as_no_session() {
    let app = spawn_app().await;
    app.registered_and_logged_in("alice").await;
    let cookies = [
        "__Host-sid=".to_owned(),
        "__Host-sid=not-base64!!".to_owned(),
        "__Host-sid=AAAA".to_owned(),
        format!("__Host-sid={}", "A".repeat(4096)),
        "__Host-sid=AAAAAAAAAAAAAAAAAAAAAAAA".to_owned(),
        "__Host-sid=%00%01%02".to_owned(),
        "__Host-sid=a; __Host-sid=b".to_owned(),
        "__Host-sid".to_owned(),
    ];
    for cookie in cookies {
        let res = app
            .http
            .get(app.url("/account"))
            .header(COOKIE, &cookie)
            .send()
            .await
            .expect("GET");
        assert_eq!(res.status(), 303, "{cookie}");
        let res = app
            .http
            .post(app.url("/api/whoami"))
            .header(COOKIE, &cookie)
            .send()
            .await
            .expect("POST");
        assert_eq!(res.status(), 200, "{cookie}");
        assert_eq!(res.text().await.expect("body"), "null", "{cookie}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anonymous_visit_to_a_protected_page_redirects_to_sign_in_with_next() {
    let app = spawn_app().await;
    let res = app.get("/account", None).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/login?next=/account");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_pages_are_404_and_unknown_api_calls_are_4xx() {
    let app = spawn_app().await;
    assert_eq!(app.get("/no/such/page", None).await.status(), 404);
    let res = app.post_form("/api/no_such_function", &[], None).await;
    assert!(res.status().is_client_error(), "{}", res.status());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_profile_refuses_bad_input_with_a_message_and_keeps_what_was_saved() {
    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("alice").await;
    let ok = app
        .post_form(
            "/api/profile",
            &[("display_name", " Alice "), ("about", "Hi")],
            Some(&sid),
        )
        .await;
    assert_eq!(ok.status(), 200);
    let long = "x".repeat(65);
    for (name, about) in [(long.as_str(), "x"), ("a\u{1}b", "x"), ("ok", "\u{7}")] {
        let res = app
            .post_form(
                "/api/profile",
                &[("display_name", name), ("about", about)],
                Some(&sid),
            )
            .await;
        assert_eq!(res.status(), 400, "{name:?}");
    }
    let res = app.post_form("/api/account", &[], Some(&sid)).await;
    let account: serde_json::Value = res.json().await.expect("json");
    assert_eq!(account["display_name"], "Alice");
    assert_eq!(account["about"], "Hi");
    // Anonymous saves are refused.
    let res = app
        .post_form(
            "/api/profile",
            &[("display_name", "x"), ("about", "y")],
            None,
        )
        .await;
    assert_eq!(res.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_refuses_settings_it_cannot_honour_and_names_them() {
    use app::ssr::clock::ManualClock;
    use app::ssr::config::Settings;
    use leptos::prelude::LeptosOptions;
    use server::startup::Application;

    type Breakage = fn(&mut Settings);
    let cases: [(&str, Breakage); 4] = [
        ("warn_before_secs", |s| {
            s.session.warn_before_secs = s.session.idle_timeout_secs
        }),
        ("absolute_timeout_secs", |s| {
            s.session.absolute_timeout_secs = u64::MAX
        }),
        ("hash_queue_max", |s| s.password.hash_queue_max = 0),
        ("cleanup_interval_secs", |s| {
            s.session.cleanup_interval_secs = u64::MAX
        }),
    ];
    for (name, break_it) in cases {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut settings = Settings::default();
        settings.database.path = dir.path().join("refused.db");
        break_it(&mut settings);
        let options = LeptosOptions::builder()
            .output_name("tessera")
            .site_addr(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
            .build();
        let refused = Application::build(
            settings,
            options,
            std::sync::Arc::new(ManualClock::starting_now()),
        )
        .await;
        let Err(error) = refused else {
            panic!("{name}: the server started");
        };
        assert!(error.to_string().contains(name), "{name}: {error}");
        assert!(
            !dir.path().join("refused.db").exists(),
            "{name}: nothing is created"
        );
    }
}
