//! Password change and account deletion end sessions; no secret is stored in clear.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_ends_other_sessions_and_keeps_this_one() {
    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("mover").await;
    let other = app.login("mover", None).await;
    let sid = app.step_up_with_password(&sid).await;
    let new_password = "Velvet harbour 42 nimbus kite";
    let res = app.change_password(&sid, new_password).await;
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
