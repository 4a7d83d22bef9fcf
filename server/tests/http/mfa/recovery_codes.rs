//! Recovery codes: single use, how many are left, their strength.

use super::*;

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
