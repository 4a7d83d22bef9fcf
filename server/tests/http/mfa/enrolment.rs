//! Turning two-step verification on and off, and who must have it.

use super::*;

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

/// A session held at enrolment whose password step-up has lapsed steps up
/// again with the password and goes on enrolling, instead of being stuck
/// until it signs out (review E18).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_session_steps_up_again_when_the_password_credit_lapses() {
    use app::ssr::config::MfaRequirement;
    let app = spawn_app_with(|s| s.mfa.require = MfaRequirement::All).await;
    app.register("late").await;
    let res = app
        .post_form(
            "/api/login",
            &[("username", "late"), ("password", PASSWORD)],
            None,
        )
        .await;
    assert_eq!(location(&res), "/account/security");
    let sid = new_sid(&res);
    let window = i64::try_from(app.state.settings.mfa.step_up_window_secs).expect("small");
    app.clock.advance(window + 1);
    let (_, body) = error_of(app.post_form("/api/mfa_begin", &[], Some(&sid)).await).await;
    assert!(body.contains("StepUpRequired"), "{body}");

    let page = app.get("/step-up?next=/account/security", Some(&sid)).await;
    assert_eq!(page.status(), StatusCode::OK, "the step-up page opens");
    let sid = app.step_up_with_password(&sid).await;
    let res = app.post_form("/api/mfa_begin", &[], Some(&sid)).await;
    assert_eq!(res.status(), StatusCode::OK, "the enrolment goes on");
    // Still held: nothing else opens.
    let res = app.get("/account", Some(&sid)).await;
    assert_eq!(location(&res), "/account/security");
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
