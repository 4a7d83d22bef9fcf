//! Passkey ceremonies from the outside (issue 11): what the server refuses
//! without a real authenticator. The ceremonies themselves run in
//! Chromium with a virtual authenticator (end2end/tests/passkeys.spec.ts).

use reqwest::StatusCode;

use crate::helpers::{
    data_version, new_sid, session_set_cookie, spawn_app, spawn_app_with, PASSWORD,
};

async fn status_and_body(res: reqwest::Response) -> (StatusCode, String) {
    let status = res.status();
    (status, res.text().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finish_without_a_start_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("alice").await;
    for purpose in ["sign_in", "step_up", "second_factor", "register"] {
        let res = app
            .post_form(
                "/api/passkey_finish",
                &[("purpose", purpose), ("credential", "{}")],
                Some(&sid),
            )
            .await;
        // The same session (a cookie may be re-sent), never a new one.
        let cookie = session_set_cookie(res.headers()).map(|c| c.value);
        assert!(
            cookie.is_none() || cookie.as_deref() == Some(sid.as_str()),
            "{purpose}: no new session: {cookie:?}"
        );
        let (status, body) = status_and_body(res).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{purpose}: {body}");
        assert!(body.contains("PasskeyExpired"), "{body}");
    }
    assert!(app.is_signed_in(&sid).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_challenge_is_answered_once_for_its_purpose_and_in_time() {
    let app = spawn_app().await;
    use app::ssr::clock::Clock;

    // A usernameless sign-in starts for anyone, with options for the
    // browser bound to the relying party.
    let res = app
        .post_form("/api/passkey_begin", &[("purpose", "sign_in")], None)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let sid = new_sid(&res);
    let options: String = res.json().await.expect("options");
    let options: serde_json::Value = serde_json::from_str(&options).expect("JSON");
    assert_eq!(options["publicKey"]["rpId"], "localhost");
    assert_eq!(options["publicKey"]["userVerification"], "required");
    assert!(options["publicKey"]["challenge"]
        .as_str()
        .is_some_and(|c| c.len() >= 22));

    // Another purpose cannot use it, and it is gone afterwards.
    let wrong = app
        .post_form(
            "/api/passkey_finish",
            &[("purpose", "step_up"), ("credential", "{}")],
            Some(&sid),
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    let again = app
        .post_form(
            "/api/passkey_finish",
            &[("purpose", "sign_in"), ("credential", "{}")],
            Some(&sid),
        )
        .await;
    let (status, body) = status_and_body(again).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("PasskeyExpired"), "{body}");

    // A malformed answer uses the challenge up as well.
    let res = app
        .post_form("/api/passkey_begin", &[("purpose", "sign_in")], Some(&sid))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    for (credential, expected) in [("not json", "BadRequest"), ("{}", "PasskeyExpired")] {
        let res = app
            .post_form(
                "/api/passkey_finish",
                &[("purpose", "sign_in"), ("credential", credential)],
                Some(&sid),
            )
            .await;
        let (status, body) = status_and_body(res).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{credential}");
        assert!(body.contains(expected), "{credential}: {body}");
    }

    // After five minutes the state has expired.
    let res = app
        .post_form("/api/passkey_begin", &[("purpose", "sign_in")], Some(&sid))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    app.clock.advance(300);
    let res = app
        .post_form(
            "/api/passkey_finish",
            &[("purpose", "sign_in"), ("credential", "{}")],
            Some(&sid),
        )
        .await;
    let (status, body) = status_and_body(res).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("PasskeyExpired"), "{body}");
    let _ = app.clock.now();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adding_a_passkey_needs_a_step_up_and_two_step_verification() {
    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("alice").await;
    let res = app
        .post_form("/api/passkey_begin", &[("purpose", "register")], Some(&sid))
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "step-up first");
    let res = app
        .post_form("/api/step_up", &[("secret", PASSWORD)], Some(&sid))
        .await;
    let sid = new_sid(&res);
    let res = app
        .post_form("/api/passkey_begin", &[("purpose", "register")], Some(&sid))
        .await;
    let (status, body) = status_and_body(res).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("two-step verification first"), "{body}");
    // Step-up and second factor with a passkey need one on the account.
    let res = app
        .post_form("/api/passkey_begin", &[("purpose", "step_up")], Some(&sid))
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = app
        .post_form("/api/passkey_begin", &[("purpose", "second_factor")], None)
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "no sign-in waiting");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_accounts_passkey_cannot_be_renamed_or_removed() {
    let app = spawn_app().await;
    let alice = app.registered_and_logged_in("alice").await;
    let bob = app.registered_and_logged_in("bob").await;
    let mut db = app.db().await;
    sqlx::query(
        "INSERT INTO passkeys (id, user_id, credential_id, passkey, name, created_at) \
         SELECT 7, id, $1, '{}', 'Alice laptop', 0 FROM users WHERE username = 'alice'",
    )
    .bind(vec![1u8, 2, 3, 4])
    .execute(&mut db)
    .await
    .expect("insert");
    let res = app
        .post_form(
            "/api/passkey_rename",
            &[("id", "7"), ("name", "mine now")],
            Some(&bob),
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = app
        .post_form("/api/step_up", &[("secret", PASSWORD)], Some(&bob))
        .await;
    let bob = new_sid(&res);
    let res = app
        .post_form("/api/passkey_remove", &[("id", "7")], Some(&bob))
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let name: String = sqlx::query_scalar("SELECT name FROM passkeys WHERE id = 7")
        .fetch_one(&mut db)
        .await
        .expect("still there");
    assert_eq!(name, "Alice laptop");
    // Its owner can rename it; an empty name is refused.
    let res = app
        .post_form(
            "/api/passkey_rename",
            &[("id", "7"), ("name", "  ")],
            Some(&alice),
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = app
        .post_form(
            "/api/passkey_rename",
            &[("id", "7"), ("name", "Work laptop")],
            Some(&alice),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_parallel_finishes_of_one_ceremony_exactly_one_proceeds() {
    let app = spawn_app().await;
    let res = app
        .post_form("/api/passkey_begin", &[("purpose", "sign_in")], None)
        .await;
    let sid = new_sid(&res);
    for round in 0..10 {
        let res = app
            .post_form("/api/passkey_begin", &[("purpose", "sign_in")], Some(&sid))
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        // Both requests load the session (and so the challenge) before
        // either saves; the ticket lets one through to check its answer
        // (malformed here: BadRequest) and stops the other.
        let finish = || {
            app.post_form(
                "/api/passkey_finish",
                &[("purpose", "sign_in"), ("credential", "{}")],
                Some(&sid),
            )
        };
        let (one, two) = tokio::join!(finish(), finish());
        let mut bodies = vec![status_and_body(one).await.1, status_and_body(two).await.1];
        bodies.sort();
        assert!(
            bodies[0].contains("BadRequest") && bodies[1].contains("PasskeyExpired"),
            "round {round}: {bodies:?}"
        );
    }
}

/// Review E1: the one ceremony a visitor may start writes (a ticket, a
/// visitor's session row) with no password in front of it, so it is
/// counted per address like sign-in attempts: a flood is refused with 429
/// before it writes anything, and visitor sessions are not cached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_passkey_sign_ins_are_throttled_per_address() {
    let app = spawn_app_with(|s| s.login.max_failures_per_address = 3).await;
    for _ in 0..3 {
        let res = app
            .post_form("/api/passkey_begin", &[("purpose", "sign_in")], None)
            .await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let mut db = app.db().await;
    let before = data_version(&mut db).await;
    for _ in 0..5 {
        let res = app
            .post_form("/api/passkey_begin", &[("purpose", "sign_in")], None)
            .await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    }
    assert_eq!(data_version(&mut db).await, before, "a refused begin wrote");
    let tickets: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM passkey_ceremonies")
        .fetch_one(&mut db)
        .await
        .expect("count");
    assert_eq!(tickets, 3);
}

/// Review E1: a flood of anonymous passkey sign-ins from one client does
/// not crowd out a real sign-in (no 503 from a busy database writer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_anonymous_passkey_sign_ins_does_not_block_a_password_sign_in() {
    let app = spawn_app().await;
    app.register("alice").await;
    let flood = futures::future::join_all(
        (0..150).map(|_| app.post_form("/api/passkey_begin", &[("purpose", "sign_in")], None)),
    );
    let sign_in = app.post_form(
        "/api/login",
        &[("username", "alice"), ("password", PASSWORD)],
        None,
    );
    let (flooded, signed_in) = futures::future::join(flood, sign_in).await;
    assert_eq!(
        signed_in.status(),
        StatusCode::OK,
        "the sign-in went through"
    );
    let refused = flooded
        .iter()
        .filter(|r| r.status() == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(refused >= 100, "{refused} of 150 refused");
    assert!(flooded.iter().all(|r| !r.status().is_server_error()));
}
