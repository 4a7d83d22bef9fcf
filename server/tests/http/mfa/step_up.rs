//! Step-up: a new ID, the same deadlines, a window; the no-JavaScript path.

use super::*;

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
    // A change of factors, audited (review E5).
    let events = app.audit_events().await;
    assert!(
        events.iter().any(|e| e == "recovery_codes_renewed/success"),
        "{events:?}"
    );
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
