use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_id_planted_before_login_is_useless_after_login() {
    // Arrange: the attacker signs in and plants their own live cookie in
    // the victim's browser.
    let app = spawn_app().await;
    app.register("mallory").await;
    app.register("victim").await;
    let planted = app.login("mallory", None).await;

    // Act: the victim signs in with the planted cookie.
    let victims = app.login("victim", Some(&planted)).await;

    // Assert: the victim got a fresh ID, and the planted one is dead.
    assert_ne!(victims, planted);
    assert!(!app.is_signed_in(&planted).await);
    assert!(app.is_signed_in(&victims).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_id_sent_at_login_is_never_adopted() {
    let app = spawn_app().await;
    app.register("victim").await;
    let invented = "AAAAAAAAAAAAAAAAAAAAAA";
    let sid = app.login("victim", Some(invented)).await;
    assert_ne!(sid, invented);
    assert!(!app.is_signed_in(invented).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_again_rotates_the_id_and_ends_the_previous_one() {
    let app = spawn_app().await;
    let first = app.registered_and_logged_in("alice").await;
    let second = app.login("alice", Some(&first)).await;
    assert_ne!(first, second);
    assert!(!app.is_signed_in(&first).await);
    assert!(app.is_signed_in(&second).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_max_per_user_the_least_recently_used_session_ends() {
    let app = spawn_app_with(|s| s.session.max_per_user = 2).await;
    app.register("alice").await;
    let oldest = app.login("alice", None).await;
    app.clock.advance(120);
    let middle = app.login("alice", None).await;
    app.clock.advance(120);
    // Using the oldest makes it the most recently used.
    assert!(app.is_signed_in(&oldest).await);
    app.clock.advance(120);
    let newest = app.login("alice", None).await;

    assert!(app.is_signed_in(&newest).await);
    assert!(app.is_signed_in(&oldest).await);
    assert!(!app.is_signed_in(&middle).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_unlimited_by_default() {
    let app = spawn_app().await;
    app.register("alice").await;
    let mut sids = Vec::new();
    for _ in 0..5 {
        sids.push(app.login("alice", None).await);
    }
    for sid in &sids {
        assert!(app.is_signed_in(sid).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_change_ends_every_session() {
    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("alice").await;
    let mut db = app.db().await;
    let id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = 'alice'")
        .fetch_one(&mut db)
        .await
        .expect("id");
    // The one writer of `users` clears the session cache itself.
    app::ssr::db::users::bump_credential_epoch(&app.state.db, &*app.state.sessions, id)
        .await
        .expect("bump epoch");
    assert!(!app.is_signed_in(&sid).await);
    assert_eq!(app.session_rows().await, 0, "the dead session was deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_login_only_same_site_relative_next_paths_are_followed() {
    let app = spawn_app().await;
    app.register("alice").await;
    for (next, expected) in [
        ("/account?tab=security", "/account?tab=security"),
        ("https://evil.example/", "/account"),
        ("//evil.example/x", "/account"),
        ("/\\evil.example", "/account"),
        ("", "/account"),
    ] {
        let res = app
            .post_html_form(
                "/api/login",
                &[
                    ("username", "alice"),
                    ("password", PASSWORD),
                    ("next", next),
                ],
                None,
            )
            .await;
        assert_eq!(res.status(), 302, "next={next}");
        assert_eq!(location(&res), expected, "next={next}");
        assert!(session_set_cookie(res.headers()).is_some());
    }
}
