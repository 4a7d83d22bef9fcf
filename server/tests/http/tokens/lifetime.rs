//! A token lives as long as its sign-in: sign-out, revocation, expiry, any credential change.

use super::*;
use crate::mfa::MfaSteps;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_ends_with_its_sign_in_not_with_a_rotation() {
    let app = spawn_app_with(|s| s.jwt.ttl_secs = 86_400).await;
    let (sid, token) = app.signed_in_with_token("alice").await;
    // A later step-up moves the session to a new ID: same sign-in.
    let sid = app.step_up_with_password(&sid).await;
    assert_eq!(
        app.me(&token).await.status(),
        StatusCode::OK,
        "after a rotation"
    );
    // Sign-out: the token dies with the session, long before its exp.
    let res = app.post_form("/api/logout", &[], Some(&sid)).await;
    assert!(res.status().is_success() || res.status().is_redirection());
    assert_refused(app.me(&token).await, "session has ended", "signed out").await;

    // Revoked from another device.
    let (_, token) = app.signed_in_with_token("bob").await;
    let other = app.login("bob", None).await;
    let other = app.step_up_with_password(&other).await;
    let res = app
        .post_form("/api/sessions_end_others", &[], Some(&other))
        .await;
    assert_eq!(res.status(), StatusCode::OK, "sign out everywhere else");
    assert_refused(app.me(&token).await, "session has ended", "revoked").await;

    // A password change ends every other session, and its tokens.
    let (_, token) = app.signed_in_with_token("carol").await;
    let other = app.login("carol", None).await;
    let other = app.step_up_with_password(&other).await;
    let new_password = "Another quartz ladle 42 orbit";
    let res = app.change_password(&other, new_password).await;
    assert_eq!(res.status(), StatusCode::OK, "password changed");
    assert_refused(
        app.me(&token).await,
        "session has ended",
        "password changed",
    )
    .await;

    // Expiry: the session's idle deadline passes, the token is refused.
    let (_, token) = app.signed_in_with_token("dave").await;
    app.clock
        .advance(app.state.settings.session.idle_timeout_secs as i64 + 1);
    assert_refused(app.me(&token).await, "session has ended", "session expired").await;
}

/// ASVS 7.4.3: a change of credentials ends the access tokens of every
/// session of the user, the session that made the change included (its
/// cookie lives on, as a new sign-in whose new tokens work).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_credential_change_ends_the_tokens_of_the_session_that_made_it() {
    let app = spawn_app_with(|s| s.jwt.ttl_secs = 86_400).await;

    // The password, changed on the session that minted the token.
    let (sid, token) = app.signed_in_with_token("alice").await;
    let new_password = "Another quartz ladle 42 orbit";
    let res = app.change_password(&sid, new_password).await;
    assert_eq!(res.status(), StatusCode::OK, "password changed");
    let sid = new_sid(&res);
    assert_refused(app.me(&token).await, "session has ended", "password").await;
    // The session goes on, and what it mints now works.
    assert!(app.is_signed_in(&sid).await);
    let fresh = app.mint(&sid).await;
    assert_eq!(app.me(&fresh).await.status(), StatusCode::OK);

    // Two-step verification turned on.
    let (sid, token) = app.signed_in_with_token("bob").await;
    let enrolled = app.enrol_session(&sid).await;
    assert_refused(app.me(&token).await, "session has ended", "MFA on").await;

    // New recovery codes, then MFA off: each after a step-up by code.
    let step_up = |sid: String| {
        let app = &app;
        let code = app.next_code(&enrolled.secret);
        async move {
            let res = app
                .post_form("/api/step_up", &[("secret", &code)], Some(&sid))
                .await;
            assert_eq!(res.status(), StatusCode::OK, "step-up by code");
            new_sid(&res)
        }
    };
    let sid = step_up(enrolled.sid.clone()).await;
    let token = app.mint(&sid).await;
    let res = app
        .post_form("/api/recovery_codes_renew", &[], Some(&sid))
        .await;
    assert_eq!(res.status(), StatusCode::OK, "codes renewed");
    let sid = new_sid(&res);
    assert_refused(app.me(&token).await, "session has ended", "new codes").await;
    let token = app.mint(&sid).await;
    let res = app.post_form("/api/mfa_disable", &[], Some(&sid)).await;
    assert_eq!(res.status(), StatusCode::OK, "MFA off");
    let sid = new_sid(&res);
    assert_refused(app.me(&token).await, "session has ended", "MFA off").await;

    // A passkey removed (one added is the same call, in
    // end2end/tests/passkeys.spec.ts: adding needs an authenticator).
    let user_id: i64 = {
        let mut db = app.db().await;
        let user_id = sqlx::query_scalar("SELECT id FROM users WHERE username = 'bob'")
            .fetch_one(&mut db)
            .await
            .expect("bob");
        sqlx::query(
            "INSERT INTO passkeys (id, user_id, credential_id, passkey, name, created_at) \
             VALUES (4242, $1, $2, '{}', 'old phone', 0)",
        )
        .bind(user_id)
        .bind(vec![7u8; 16])
        .execute(&mut db)
        .await
        .expect("a passkey row");
        user_id
    };
    assert!(user_id > 0);
    let token = app.mint(&sid).await;
    let res = app
        .post_form("/api/passkey_remove", &[("id", "4242")], Some(&sid))
        .await;
    assert_eq!(res.status(), StatusCode::OK, "passkey removed");
    let sid = new_sid(&res);
    assert_refused(app.me(&token).await, "session has ended", "passkey removed").await;
    assert!(app.is_signed_in(&sid).await);
}

/// A session row that a rotation wrote back after the user's sessions were
/// ended (the race of review E10: the same sign-in, the old credential
/// epoch) does not keep the sign-in's tokens alive: a token counts only a
/// row under the user's current credentials.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_under_old_credentials_keeps_no_token_alive() {
    use app::ssr::session::SessionBackend;
    type Row = (Vec<u8>, i64, i64, i64, i64, i64, String, Option<String>);
    let app = spawn_app().await;
    let (_sid, token) = app.signed_in_with_token("alice").await;
    assert_eq!(app.me(&token).await.status(), StatusCode::OK);
    let mut db = app.db().await;
    let row: Row = sqlx::query_as(
        "SELECT id_hash, user_id, created_at, last_seen_at, idle_expires_at, \
         absolute_expires_at, data, sign_in_id FROM sessions",
    )
    .fetch_one(&mut db)
    .await
    .expect("the one session");
    let user_id = row.1;
    // A credential change ends every session of the user...
    app::ssr::db::users::bump_credential_epoch(&app.state.db, &*app.state.sessions, user_id)
        .await
        .expect("new epoch");
    app.state
        .sessions
        .delete_all_for_user(user_id)
        .await
        .expect("ended");
    assert_eq!(app.me(&token).await.status(), StatusCode::UNAUTHORIZED);
    // ...and a rotation that raced it writes the row back, old epoch and
    // sign-in id included.
    sqlx::query(
        "INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, idle_expires_at, \
         absolute_expires_at, data, sign_in_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(row.0)
    .bind(row.1)
    .bind(row.2)
    .bind(row.3)
    .bind(row.4)
    .bind(row.5)
    .bind(row.6)
    .bind(row.7)
    .execute(&mut db)
    .await
    .expect("the row back");
    assert_eq!(
        app.me(&token).await.status(),
        StatusCode::UNAUTHORIZED,
        "a row under old credentials kept the token alive"
    );
}
