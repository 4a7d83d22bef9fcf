//! The second step of a sign-in: codes, their single use and their limits.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_sign_in_grants_nothing_but_the_code_page() {
    let app = spawn_app().await;
    let enrolled = app.enrol("pending").await;
    let pending = app.password_step("pending").await;
    assert_ne!(pending, enrolled.sid);

    for page in ["/account", "/account/security", "/step-up"] {
        let res = app.get(page, Some(&pending)).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{page}");
        assert!(location(&res).starts_with("/login?next="), "{page}");
    }
    for (path, form) in [
        ("/api/account", vec![]),
        ("/api/profile", vec![("display_name", "x"), ("about", "y")]),
        ("/api/extend_session", vec![]),
        ("/api/step_up", vec![("secret", PASSWORD)]),
        ("/api/mfa_begin", vec![]),
        ("/api/mfa_disable", vec![]),
        ("/api/recovery_codes_renew", vec![]),
        (
            "/api/change_password",
            vec![("password", PASSWORD), ("password_confirm", PASSWORD)],
        ),
        ("/api/delete_account", vec![("confirm_username", "pending")]),
    ] {
        let (status, body) = error_of(app.post_form(path, &form, Some(&pending)).await).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {body}");
    }
    let res = app.get("/api/session_status", Some(&pending)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app.post_form("/api/whoami", &[], Some(&pending)).await;
    assert_eq!(res.text().await.expect("body"), "null");
    // The code page is the one thing it opens.
    let page = app.page("/login/verify", &pending).await;
    assert!(page.contains("autocomplete=\"one-time-code\""));
    assert!(page.contains("inputmode=\"numeric\""));

    // The right code (typed with spaces) completes it on a new ID; the
    // pending ID is dead.
    let code = app.next_code(&enrolled.secret);
    let spaced = format!("{} {}", &code[..3], &code[3..]);
    let res = app.send_code(&pending, "totp", &spaced).await;
    assert_eq!(res.status(), StatusCode::OK);
    let sid = new_sid(&res);
    assert_ne!(sid, pending);
    assert!(app.is_signed_in(&sid).await);
    assert!(!app.is_signed_in(&pending).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_is_accepted_once() {
    let app = spawn_app().await;
    let enrolled = app.enrol("replay").await;
    let code = app.next_code(&enrolled.secret);
    let first = app.password_step("replay").await;
    assert_eq!(
        app.send_code(&first, "totp", &code).await.status(),
        StatusCode::OK
    );
    // The same code again, seconds later, on another sign-in: refused,
    // though it is still within its time step.
    app.clock.advance(5);
    let second = app.password_step("replay").await;
    let (status, body) = error_of(app.send_code(&second, "totp", &code).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("InvalidCode"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_wrong_codes_end_the_sign_in_and_a_timeout_too() {
    let app = spawn_app().await;
    let enrolled = app.enrol("guesser").await;
    let pending = app.password_step("guesser").await;
    for attempt in 1..=4 {
        let (status, body) = error_of(app.send_code(&pending, "totp", "123456").await).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
        assert!(body.contains("InvalidCode"), "{body}");
    }
    let (_, body) = error_of(app.send_code(&pending, "totp", "123456").await).await;
    assert!(body.contains("SignInExpired"), "{body}");
    // Over: even the right code does not revive it.
    let code = app.next_code(&enrolled.secret);
    let (_, body) = error_of(app.send_code(&pending, "totp", &code).await).await;
    assert!(body.contains("SignInExpired"), "{body}");

    // Five minutes without the code end it too.
    let pending = app.password_step("guesser").await;
    app.clock.advance(301);
    let code = app.next_code(&enrolled.secret);
    let (status, body) = error_of(app.send_code(&pending, "totp", &code).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("SignInExpired"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_codes_count_per_account_across_sign_ins() {
    let app = spawn_app_with(|s| s.mfa.max_failures_per_account = 6).await;
    let enrolled = app.enrol("spread").await;
    // Three fresh sign-ins with two wrong codes each: six for the account.
    for _ in 0..3 {
        let pending = app.password_step("spread").await;
        for _ in 0..2 {
            let (status, _) = error_of(app.send_code(&pending, "totp", "654321").await).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
    }
    // A fourth sign-in: the next code must wait out a delay (1 s after the
    // sixth failure, doubling with each further one), even the right code.
    let pending = app.password_step("spread").await;
    let code = {
        use app::ssr::clock::Clock;
        // The next step's code (one step of skew is accepted) without
        // moving the clock past the delay.
        enrolled
            .secret
            .code_at_step(app.clock.now().div_euclid(30) + 1)
            .expect("a code")
    };
    let res = app.send_code(&pending, "totp", &code).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        res.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let body = res.text().await.expect("body");
    assert!(body.contains("TooManyCodes"), "{body}");
    // The refusal is audited (review E5: it returned before any audit).
    let events = app.audit_events().await;
    assert!(
        events.iter().any(|e| e == "throttled/failure"),
        "{events:?}"
    );
    // After the delay, the right code works: never a lockout.
    app.clock.advance(1);
    assert_eq!(
        app.send_code(&pending, "totp", &code).await.status(),
        StatusCode::OK
    );
}

/// Review E7: parallel wrong codes on one pending sign-in cannot slip past
/// `max_codes_per_sign_in` (5). Each loads the session's count alike and
/// the compare-and-swap keeps one save, so that count alone let up to the
/// account's limit (10) through; the database count stops them at 5, and
/// the sign-in ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_wrong_codes_cannot_pass_the_per_sign_in_limit() {
    let app = spawn_app().await;
    let enrolled = app.enrol("alice").await;
    let pending = app.password_step("alice").await;
    let answers =
        futures::future::join_all((0..12).map(|_| app.send_code(&pending, "totp", "000000"))).await;
    assert!(answers.iter().all(|r| r.status().is_client_error()));
    let checked = app
        .audit_events()
        .await
        .iter()
        .filter(|e| *e == "second_factor/failure")
        .count();
    assert!(checked <= 5, "{checked} codes were checked");
    // The sign-in is over: a right code no longer completes it.
    let code = app.next_code(&enrolled.secret);
    let (status, body) = error_of(app.send_code(&pending, "totp", &code).await).await;
    assert!(status.is_client_error(), "{status}");
    assert!(body.contains("SignInExpired"), "{body}");
}
