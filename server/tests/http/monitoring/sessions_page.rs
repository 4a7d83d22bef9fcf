//! The sessions page: devices listed, one ended, all others ended after a step-up.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sessions_page_lists_devices_and_ends_one() {
    let app = spawn_app().await;
    let mine = app.registered_and_logged_in("alice").await;
    let other = app.login("alice", None).await;
    let page = app.page("/account/sessions", &mine).await;
    assert_eq!(page.matches("class=\"session\"").count(), 2, "{page}");
    assert!(page.contains("Chrome 131 on Linux"), "{page}");
    assert_eq!(page.matches("(this device)").count(), 1);
    assert!(
        !page.contains(&mine) && !page.contains(&other),
        "no session ID in the page"
    );
    let handles = between(&page, "name=\"handle\" value=\"", "\"");
    assert_eq!(handles.len(), 1, "only the other session can be ended here");
    let res = app
        .post_form(
            "/api/session_revoke",
            &[("handle", handles[0])],
            Some(&mine),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(!app.is_signed_in(&other).await, "ended on its next request");
    assert!(app.is_signed_in(&mine).await);
    // An unknown or stale handle changes nothing.
    let res = app
        .post_form(
            "/api/session_revoke",
            &[("handle", handles[0])],
            Some(&mine),
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // Another user's handle is not theirs to end.
    let bob = app.registered_and_logged_in("bob").await;
    let bob_page = app.page("/account/sessions", &bob).await;
    assert!(between(&bob_page, "name=\"handle\" value=\"", "\"").is_empty());
    let mut db = app.db().await;
    let revoked: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_events WHERE event = 'session_revoked' AND outcome = 'success'",
    )
    .fetch_one(&mut db)
    .await
    .expect("count");
    assert_eq!(revoked, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_everywhere_else_needs_a_step_up() {
    let app = spawn_app().await;
    let mine = app.registered_and_logged_in("alice").await;
    let second = app.login("alice", None).await;
    let third = app.login("alice", None).await;
    let res = app
        .post_form("/api/sessions_end_others", &[], Some(&mine))
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(app.is_signed_in(&second).await, "nothing changed");
    let res = app
        .post_form("/api/step_up", &[("secret", PASSWORD)], Some(&mine))
        .await;
    let mine = new_sid(&res);
    let res = app
        .post_form("/api/sessions_end_others", &[], Some(&mine))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(!app.is_signed_in(&second).await);
    assert!(!app.is_signed_in(&third).await);
    assert!(app.is_signed_in(&mine).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_in_flight_never_bring_a_revoked_session_back() {
    use futures::future::join_all;
    let app = spawn_app().await;
    let mine = app.registered_and_logged_in("alice").await;
    for round in 0..5 {
        let other = app.login("alice", None).await;
        // Past the touch window, so every request of the other session
        // tries to write (a touch, and a profile save that changes data).
        app.clock.advance(61);
        let page = app.page("/account/sessions", &mine).await;
        let handle = between(&page, "name=\"handle\" value=\"", "\"")
            .first()
            .map(|h| (*h).to_owned())
            .expect("the other session");
        let (app, other) = (&app, &other);
        let readers = (0..12).map(|_| app.get("/account", Some(other)));
        let profile_form = [("display_name", "in flight"), ("about", "")];
        let writer = app.post_form("/api/profile", &profile_form, Some(other));
        let revoke_form = [("handle", handle.as_str())];
        let revoke = app.post_form("/api/session_revoke", &revoke_form, Some(&mine));
        let (_, _, revoked) = tokio::join!(join_all(readers), writer, revoke);
        assert_eq!(revoked.status(), StatusCode::OK, "round {round}");
        assert!(
            !app.is_signed_in(other).await,
            "round {round}: the revoked session came back"
        );
        assert!(app.is_signed_in(&mine).await, "round {round}");
    }
}
