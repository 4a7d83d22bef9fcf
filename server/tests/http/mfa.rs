//! Two-step verification and step-up (issue 10), from the outside: the
//! test reads the secret off the enrolment page, as a person's app would
//! scan it, and computes codes with the test's clock.

use app::ssr::mfa::totp::TotpSecret;
use reqwest::{Response, StatusCode};

use crate::helpers::{location, new_sid, spawn_app, spawn_app_with, TestApp, PASSWORD};

async fn error_of(res: Response) -> (StatusCode, String) {
    let status = res.status();
    (status, res.text().await.unwrap_or_default())
}

fn between<'a>(html: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = html.find(start)? + start.len();
    let to = html[from..].find(end)? + from;
    Some(&html[from..to])
}

pub(crate) struct Enrolled {
    pub sid: String,
    pub secret: TotpSecret,
    pub codes: Vec<String>,
}

impl TestApp {
    /// The current code of `secret` after moving the clock to a fresh
    /// 30-second step (each step is accepted once).
    pub(crate) fn next_code(&self, secret: &TotpSecret) -> String {
        use app::ssr::clock::Clock;
        self.clock.advance(30);
        secret
            .code_at_step(self.clock.now().div_euclid(30))
            .expect("a code")
    }

    pub(crate) async fn enrol(&self, username: &str) -> Enrolled {
        let sid = self.registered_and_logged_in(username).await;
        let sid = self.step_up_with_password(&sid).await;
        self.enrol_session(&sid).await
    }

    /// Turns MFA on from `sid`, a session that stepped up.
    pub(crate) async fn enrol_session(&self, sid: &str) -> Enrolled {
        let res = self.post_form("/api/mfa_begin", &[], Some(sid)).await;
        assert_eq!(res.status(), StatusCode::OK, "mfa_begin");
        let page = self.page("/account/security", sid).await;
        assert!(page.contains("<svg"), "the QR code is inline SVG");
        let shown = between(&page, "id=\"totp-secret\">", "<").expect("the secret is shown");
        let bytes = totp_rs::Secret::Encoded(shown.replace(' ', ""))
            .to_bytes()
            .expect("base32");
        let secret = TotpSecret::from_bytes(bytes).expect("20 bytes");
        let code = self.next_code(&secret);
        let res = self
            .post_form("/api/mfa_confirm", &[("code", &code)], Some(sid))
            .await;
        assert_eq!(res.status(), StatusCode::OK, "mfa_confirm");
        // The other sessions ended; this one moved to a new ID.
        let sid = new_sid(&res);
        let page = self.page("/account/security", &sid).await;
        // The secret is never sent to the browser again once MFA is on.
        assert!(!page.contains("totp-secret"));
        assert!(!page.contains(&shown.replace(' ', "")[..16]));
        let list = between(&page, "id=\"recovery-codes\"", "</ol>").expect("codes shown");
        let codes: Vec<String> = list
            .split("<code>")
            .skip(1)
            .filter_map(|part| part.split("</code>").next())
            .map(str::to_owned)
            .collect();
        assert_eq!(codes.len(), 10);
        let res = self
            .post_form("/api/recovery_codes_saved", &[], Some(&sid))
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        Enrolled { sid, secret, codes }
    }

    /// Password step of a sign-in; the pending session's cookie.
    async fn password_step(&self, username: &str) -> String {
        let res = self
            .post_form(
                "/api/login",
                &[("username", username), ("password", PASSWORD)],
                None,
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(location(&res), "/login/verify");
        new_sid(&res)
    }

    async fn send_code(&self, sid: &str, method: &str, code: &str) -> Response {
        self.post_form(
            "/api/verify_code",
            &[("code", code), ("method", method)],
            Some(sid),
        )
        .await
    }

    async fn sign_in_with_code(&self, username: &str, secret: &TotpSecret) -> String {
        let pending = self.password_step(username).await;
        let code = self.next_code(secret);
        let res = self.send_code(&pending, "totp", &code).await;
        assert_eq!(res.status(), StatusCode::OK, "code accepted");
        new_sid(&res)
    }

    async fn totp_rows(&self) -> i64 {
        let mut db = self.db().await;
        sqlx::query_scalar("SELECT COUNT(*) FROM totp_factors")
            .fetch_one(&mut db)
            .await
            .expect("count")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turning_mfa_on_needs_a_step_up_and_a_valid_code() {
    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("enrolee").await;
    // Without a step-up: refused with a code a client can test for.
    let (status, body) = error_of(app.post_form("/api/mfa_begin", &[], Some(&sid)).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("StepUpRequired"), "{body}");

    let sid = app.step_up_with_password(&sid).await;
    let res = app.post_form("/api/mfa_begin", &[], Some(&sid)).await;
    assert_eq!(res.status(), StatusCode::OK);
    // A wrong code does not turn it on; an abandoned setup leaves nothing.
    let (status, _) = error_of(
        app.post_form("/api/mfa_confirm", &[("code", "000000")], Some(&sid))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let res = app.post_form("/api/mfa_cancel", &[], Some(&sid)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.totp_rows().await, 0);
    let page = app.page("/account/security", &sid).await;
    assert!(page.contains("is <strong>off</strong>"), "{page}");
    assert!(!page.contains("totp-secret"));

    // The whole enrolment, and sign-in with a code afterwards.
    let enrolled = app.enrol("enrolee2").await;
    assert_eq!(app.totp_rows().await, 1);
    let page = app.page("/account/security", &enrolled.sid).await;
    assert!(page.contains("is <strong>on</strong>"));
    assert!(page.contains("Unused recovery codes: 10."));
    // Shown once: not after "I have saved them".
    assert!(!page.contains("recovery-codes\""));
    let sid = app.sign_in_with_code("enrolee2", &enrolled.secret).await;
    assert!(app.is_signed_in(&sid).await);
}

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
    // After the delay, the right code works: never a lockout.
    app.clock.advance(1);
    assert_eq!(
        app.send_code(&pending, "totp", &code).await.status(),
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovery_code_works_once_and_says_how_many_are_left() {
    let app = spawn_app().await;
    let enrolled = app.enrol("lostphone").await;
    let code = enrolled.codes[0].to_uppercase().replace('-', " ");
    let pending = app.password_step("lostphone").await;
    let res = app.send_code(&pending, "recovery_code", &code).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(location(&res), "/account/security?codes_left=9");
    let sid = new_sid(&res);
    let page = app.page("/account/security?codes_left=9", &sid).await;
    assert!(page.contains("You have 9 left"), "{page}");

    let pending = app.password_step("lostphone").await;
    let (status, body) = error_of(
        app.send_code(&pending, "recovery_code", &enrolled.codes[0])
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("InvalidCode"), "{body}");
    // Malformed and oversized codes: a clear 4xx, never a 500.
    for junk in ["", "x", &"a".repeat(5000), "'; DROP TABLE users; --"] {
        let res = app.send_code(&pending, "recovery_code", junk).await;
        assert!(
            res.status().is_client_error(),
            "{junk:.20}: {}",
            res.status()
        );
    }
    let res = app.send_code(&pending, "sms", "123456").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // Audited (issue 12): MFA on, each second step, the recovery code.
    let events = app.audit_events().await;
    for expected in [
        "mfa_enabled/success",
        "second_factor/success",
        "recovery_code_used/success",
        "second_factor/failure",
    ] {
        assert!(
            events.iter().any(|e| e == expected),
            "{expected} in {events:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_up_rotates_the_id_keeps_the_deadlines_and_expires() {
    let app = spawn_app_with(|s| s.mfa.step_up_window_secs = 120).await;
    let enrolled = app.enrol("sudo").await;
    app.post_form("/api/logout", &[], Some(&enrolled.sid)).await;
    let sid = app.sign_in_with_code("sudo", &enrolled.secret).await;
    let absolute_before = absolute_deadline(&app).await;

    let (status, _) = error_of(
        app.post_form("/api/recovery_codes_renew", &[], Some(&sid))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let code = app.next_code(&enrolled.secret);
    let res = app
        .post_form(
            "/api/step_up",
            &[("secret", &code), ("method", "totp")],
            Some(&sid),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let stepped = new_sid(&res);
    assert_ne!(stepped, sid);
    assert!(!app.is_signed_in(&sid).await, "the old ID is dead");
    assert_eq!(
        absolute_deadline(&app).await,
        absolute_before,
        "no longer life"
    );
    // The password is not a step-up for a user with MFA.
    let (status, _) = error_of(
        app.post_form(
            "/api/step_up",
            &[("secret", PASSWORD), ("method", "totp")],
            Some(&stepped),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let page = app.page("/account/security", &stepped).await;
    assert!(page.contains("id=\"step-up-status\""));
    // The account page says while "sudo mode" holds, and until when.
    let page = app.page("/account", &stepped).await;
    assert!(page.contains("id=\"step-up-status\""));
    app.clock.advance(119);
    let res = app
        .post_form("/api/recovery_codes_renew", &[], Some(&stepped))
        .await;
    assert_eq!(res.status(), StatusCode::OK, "within the window");
    let renewed = new_sid(&res);
    app.clock.advance(2);
    let (status, body) = error_of(
        app.post_form("/api/recovery_codes_renew", &[], Some(&renewed))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "expired: {body}");
    assert!(body.contains("StepUpRequired"));
    let page = app.page("/account", &renewed).await;
    assert!(!page.contains("id=\"step-up-status\""));
}

async fn absolute_deadline(app: &TestApp) -> i64 {
    let mut db = app.db().await;
    sqlx::query_scalar("SELECT absolute_expires_at FROM sessions WHERE user_id IS NOT NULL")
        .fetch_one(&mut db)
        .await
        .expect("one signed-in session")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_ends_other_sessions_and_keeps_this_one() {
    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("mover").await;
    let other = app.login("mover", None).await;
    let sid = app.step_up_with_password(&sid).await;
    let new_password = "Velvet harbour 42 nimbus kite";
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
    assert_eq!(res.status(), StatusCode::OK);
    let current = new_sid(&res);
    assert_ne!(current, sid);
    assert!(app.is_signed_in(&current).await);
    assert!(!app.is_signed_in(&sid).await);
    assert!(!app.is_signed_in(&other).await);
    // The old password no longer works; the new one does.
    let (status, _) = error_of(
        app.post_form(
            "/api/login",
            &[("username", "mover"), ("password", PASSWORD)],
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let res = app
        .post_form(
            "/api/login",
            &[("username", "mover"), ("password", new_password)],
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turning_mfa_off_ends_other_sessions() {
    let app = spawn_app().await;
    let enrolled = app.enrol("offswitch").await;
    let other = app.sign_in_with_code("offswitch", &enrolled.secret).await;
    let code = app.next_code(&enrolled.secret);
    let res = app
        .post_form("/api/step_up", &[("secret", &code)], Some(&enrolled.sid))
        .await;
    let sid = new_sid(&res);
    let res = app.post_form("/api/mfa_disable", &[], Some(&sid)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let sid = new_sid(&res);
    assert!(app.is_signed_in(&sid).await);
    assert!(!app.is_signed_in(&other).await);
    assert_eq!(app.totp_rows().await, 0);
    // Signing in is one step again.
    app.login("offswitch", None).await;
    let events = app.audit_events().await;
    for expected in ["step_up/success", "mfa_disabled/success"] {
        assert!(
            events.iter().any(|e| e == expected),
            "{expected} in {events:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_account_ends_every_session_and_removes_its_data() {
    let app = spawn_app().await;
    let enrolled = app.enrol("leaver").await;
    let other = app.sign_in_with_code("leaver", &enrolled.secret).await;
    let code = app.next_code(&enrolled.secret);
    let res = app
        .post_form("/api/step_up", &[("secret", &code)], Some(&enrolled.sid))
        .await;
    let sid = new_sid(&res);
    let (status, _) = error_of(
        app.post_form(
            "/api/delete_account",
            &[("confirm_username", "someone")],
            Some(&sid),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let res = app
        .post_form(
            "/api/delete_account",
            &[("confirm_username", "leaver")],
            Some(&sid),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(!app.is_signed_in(&sid).await);
    assert!(!app.is_signed_in(&other).await);
    assert_eq!(app.session_rows().await, 0);
    let mut db = app.db().await;
    for table in ["users", "totp_factors", "recovery_codes"] {
        let rows: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&mut db)
            .await
            .expect("count");
        assert_eq!(rows, 0, "{table}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_and_codes_are_never_stored_in_clear() {
    let app = spawn_app().await;
    // Mid-enrolment and with codes on show: the session row holds them
    // sealed only.
    let sid = app.registered_and_logged_in("vault").await;
    let sid = app.step_up_with_password(&sid).await;
    app.post_form("/api/mfa_begin", &[], Some(&sid)).await;
    let page = app.page("/account/security", &sid).await;
    let shown = between(&page, "id=\"totp-secret\">", "<")
        .expect("secret")
        .replace(' ', "");
    let bytes = totp_rs::Secret::Encoded(shown.clone())
        .to_bytes()
        .expect("base32");
    let secret = TotpSecret::from_bytes(bytes.clone()).expect("20 bytes");
    let code = app.next_code(&secret);
    let res = app
        .post_form("/api/mfa_confirm", &[("code", &code)], Some(&sid))
        .await;
    let sid = new_sid(&res);
    let page = app.page("/account/security", &sid).await;
    let first_code = between(&page, "<li><code>", "</code>")
        .expect("codes")
        .to_owned();

    let stored = app.stored_bytes().await;
    for haystack in &stored {
        for needle in [
            shown.as_bytes(),
            &bytes[..],
            first_code.as_bytes(),
            first_code.replace('-', "").as_bytes(),
        ] {
            assert!(
                !haystack.windows(needle.len()).any(|w| w == needle),
                "a secret is in the database file in clear"
            );
        }
    }
    // The download is the codes, for this user only, while shown.
    let res = app
        .get("/account/security/recovery-codes.txt", Some(&sid))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.expect("text").contains(&first_code));
    app.post_form("/api/recovery_codes_saved", &[], Some(&sid))
        .await;
    let res = app
        .get("/account/security/recovery-codes.txt", Some(&sid))
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_javascript_a_sensitive_form_goes_to_the_step_up_page_and_back() {
    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("plain").await;
    let res = app
        .http
        .post(app.url("/api/mfa_begin"))
        .header("accept", "text/html")
        .header("origin", &app.base)
        .header("referer", app.url("/account/security"))
        .header("cookie", format!("__Host-sid={sid}"))
        .form(&[("x", "")])
        .send()
        .await
        .expect("POST");
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(location(&res), "/step-up?next=/account/security");
    let page = app.page("/step-up?next=/account/security", &sid).await;
    assert!(page.contains("autocomplete=\"current-password\""));
    let res = app
        .http
        .post(app.url("/api/step_up"))
        .header("accept", "text/html")
        .header("origin", &app.base)
        .header("referer", app.url("/step-up?next=/account/security"))
        .header("cookie", format!("__Host-sid={sid}"))
        .form(&[("secret", PASSWORD), ("next", "/account/security")])
        .send()
        .await
        .expect("POST");
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(location(&res), "/account/security");
    let sid = new_sid(&res);
    let page = app.page("/account/security", &sid).await;
    assert!(page.contains("id=\"step-up-status\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_refuses_to_start_with_mfa_data_and_no_key() {
    let app = spawn_app().await;
    app.enrol("keyholder").await;
    let missing = app.db_path.with_file_name("no-such.key");
    let mut settings = app::ssr::config::Settings::default();
    app.database.apply(&mut settings);
    settings.mfa.key_file = missing;
    let options = leptos::prelude::LeptosOptions::builder()
        .output_name("tessera")
        .site_addr(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .build();
    let error = server::startup::Application::build(
        settings,
        options,
        std::sync::Arc::new(app::ssr::clock::SystemClock),
    )
    .await
    .err()
    .expect("refused");
    let message = error.to_string();
    assert!(message.contains("two-step verification on"), "{message}");
    assert!(message.contains("no-such.key"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_the_mfa_key_reseals_every_secret() {
    use app::ssr::mfa::sealing::SealingKey;
    let app = spawn_app().await;
    let enrolled = app.enrol("rotator").await;
    let new_key = app.db_path.with_file_name("new.key");
    std::fs::write(&new_key, "7b".repeat(32)).expect("write");
    let mut settings = app::ssr::config::Settings::default();
    app.database.apply(&mut settings);
    settings.mfa.key_file = app.db_path.with_file_name("mfa.key");
    let args = ["rotate-mfa-key".to_owned(), new_key.display().to_string()];
    let message = server::cli::run(&settings, &args).await.expect("rotated");
    assert!(message.starts_with("sealed 1 TOTP secrets"), "{message}");

    let (user_id, sealed): (i64, Vec<u8>) = {
        let mut db = app.db().await;
        sqlx::query_as("SELECT user_id, secret_sealed FROM totp_factors")
            .fetch_one(&mut db)
            .await
            .expect("row")
    };
    let new = SealingKey::from_hex(&"7b".repeat(32)).expect("key");
    let old = SealingKey::from_hex(&"5a".repeat(32)).expect("key");
    assert_eq!(
        new.open(user_id, &sealed).expect("opens").as_slice(),
        enrolled.secret.as_bytes()
    );
    assert!(old.open(user_id, &sealed).is_err());
    // A missing new key changes nothing.
    let args = ["rotate-mfa-key".to_owned(), "/nonexistent.key".to_owned()];
    assert!(server::cli::run(&settings, &args).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_without_mfa_is_held_at_enrolment_until_it_is_on() {
    // Default `[mfa] require = "admins"`.
    let app = spawn_app().await;
    app.register("chief").await;
    let mut db = app.db().await;
    sqlx::query("UPDATE users SET is_admin = 1 WHERE username = 'chief'")
        .execute(&mut db)
        .await
        .expect("grant");
    let res = app
        .post_form(
            "/api/login",
            &[("username", "chief"), ("password", PASSWORD)],
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(location(&res), "/account/security");
    let sid = new_sid(&res);

    // Nothing else: pages lead back to the enrolment, functions see a visitor.
    for page in ["/account", "/admin", "/"] {
        let res = app.get(page, Some(&sid)).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{page}");
        assert_eq!(location(&res), "/account/security", "{page}");
    }
    let res = app
        .post_form(
            "/api/profile",
            &[("display_name", "x"), ("about", "")],
            Some(&sid),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app.post_form("/api/admin_enter", &[], Some(&sid)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let page = app.page("/account/security", &sid).await;
    assert!(page.contains("id=\"mfa-required\""));

    // The password just typed is the step-up the enrolment needs.
    let res = app.post_form("/api/mfa_begin", &[], Some(&sid)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = app.page("/account/security", &sid).await;
    let shown = between(&page, "id=\"totp-secret\">", "<")
        .expect("secret")
        .replace(' ', "");
    let bytes = totp_rs::Secret::Encoded(shown).to_bytes().expect("base32");
    let secret = TotpSecret::from_bytes(bytes).expect("20 bytes");
    let code = app.next_code(&secret);
    let res = app
        .post_form("/api/mfa_confirm", &[("code", &code)], Some(&sid))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let sid = new_sid(&res);
    assert!(app.is_signed_in(&sid).await, "free once MFA is on");
    // Required: it cannot be turned off.
    let (status, body) = error_of(app.post_form("/api/mfa_disable", &[], Some(&sid)).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("required"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_must_have_mfa_follows_the_setting() {
    use app::ssr::config::MfaRequirement;
    let everyone = spawn_app_with(|s| s.mfa.require = MfaRequirement::All).await;
    everyone.register("anyone").await;
    let res = everyone
        .post_form(
            "/api/login",
            &[("username", "anyone"), ("password", PASSWORD)],
            None,
        )
        .await;
    assert_eq!(location(&res), "/account/security");

    let nobody = spawn_app_with(|s| s.mfa.require = MfaRequirement::None).await;
    nobody.register("admin2").await;
    let mut db = nobody.db().await;
    sqlx::query("UPDATE users SET is_admin = 1")
        .execute(&mut db)
        .await
        .expect("grant");
    let res = nobody
        .post_form(
            "/api/login",
            &[("username", "admin2"), ("password", PASSWORD)],
            None,
        )
        .await;
    assert_eq!(location(&res), "/account");
}

/// ASVS 5.0 6.5.2: recovery codes stored with a plain hash must have at
/// least 112 bits. They are 25 characters of a 31-letter alphabet (123
/// bits); codes of the older 16-character kind (79 bits) still work, and
/// the page asks for new ones while any is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_codes_have_112_bits_and_older_shorter_ones_work_until_renewed() {
    let app = spawn_app().await;
    let enrolled = app.enrol("paper").await;
    for code in &enrolled.codes {
        let groups: Vec<&str> = code.split('-').collect();
        assert_eq!(groups.len(), 5, "{code}");
        assert!(groups.iter().all(|g| g.len() == 5), "{code}");
        let bits = 25.0 * 31f64.log2();
        assert!(bits >= 112.0);
        assert!(
            code.chars()
                .all(|c| c == '-' || "abcdefghjkmnpqrstuvwxyz23456789".contains(c)),
            "{code}"
        );
    }
    let (user_id, bits): (i64, Vec<i64>) = {
        let mut db = app.db().await;
        let user_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = 'paper'")
            .fetch_one(&mut db)
            .await
            .expect("id");
        let bits = sqlx::query_scalar("SELECT bits FROM recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .fetch_all(&mut db)
            .await
            .expect("bits");
        (user_id, bits)
    };
    assert_eq!(bits, vec![123; 10]);
    let page = app.page("/account/security", &enrolled.sid).await;
    assert!(
        !page.contains("id=\"codes-short\""),
        "no notice for new codes"
    );

    // A code of the older kind, stored as it was (SHA-256, no `bits`).
    let old_code = "abcd-efgh-jkmn-pqrs";
    {
        use sha2::Digest;
        let hash = sha2::Sha256::digest(b"abcdefghjkmnpqrs").to_vec();
        let mut db = app.db().await;
        sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
            .bind(user_id)
            .bind(hash)
            .execute(&mut db)
            .await
            .expect("an older code");
    }
    let page = app.page("/account/security", &enrolled.sid).await;
    assert!(page.contains("id=\"codes-short\""), "the notice shows");
    let pending = app.password_step("paper").await;
    let res = app.send_code(&pending, "recovery_code", old_code).await;
    assert_eq!(res.status(), StatusCode::OK, "the older code still works");
    let sid = new_sid(&res);
    // Used up: no short code is left unused, so no notice.
    let page = app.page("/account/security", &sid).await;
    assert!(!page.contains("id=\"codes-short\""), "{page}");
}
