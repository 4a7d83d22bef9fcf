use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_users_and_wrong_passwords_get_the_same_answer_and_the_same_work() {
    let app = spawn_app().await;
    app.register("alice").await;
    let runs = || app.state.hasher.runs();

    let before = runs();
    let wrong_password = app
        .post_form(
            "/api/login",
            &[("username", "alice"), ("password", "not her password")],
            None,
        )
        .await;
    assert_eq!(runs(), before + 1, "a wrong password runs argon2 once");

    let before = runs();
    let unknown_user = app
        .post_form(
            "/api/login",
            &[("username", "nobody"), ("password", "not her password")],
            None,
        )
        .await;
    assert_eq!(runs(), before + 1, "an unknown user runs argon2 once too");

    assert_eq!(wrong_password.status(), 401);
    assert_eq!(unknown_user.status(), 401);
    let (a, b) = (
        wrong_password.text().await.expect("body"),
        unknown_user.text().await.expect("body"),
    );
    assert_eq!(a, b);
    assert_eq!(a, "\"InvalidCredentials\"");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_plain_form_sign_in_shows_one_message() {
    let app = spawn_app().await;
    let res = app
        .post_html_form(
            "/api/login",
            &[("username", "nobody"), ("password", "whatever1")],
            None,
        )
        .await;
    // Plain forms are sent back to the form, with the error for it to show.
    assert_eq!(res.status(), 302);
    assert!(location(&res).contains("__err="));
    assert!(session_set_cookie(res.headers()).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failures_are_throttled_even_with_the_right_password() {
    let app = spawn_app_with(|s| s.login.max_failures_per_account = 3).await;
    app.register("alice").await;
    for _ in 0..3 {
        let res = app
            .post_form(
                "/api/login",
                &[("username", "alice"), ("password", "guess-guess")],
                None,
            )
            .await;
        assert_eq!(res.status(), 401);
    }
    let runs = app.state.hasher.runs();
    let res = app
        .post_form(
            "/api/login",
            &[("username", "alice"), ("password", PASSWORD)],
            None,
        )
        .await;
    assert_eq!(res.status(), 429);
    assert!(res.text().await.expect("body").contains("TooManyAttempts"));
    assert_eq!(
        app.state.hasher.runs(),
        runs,
        "throttled attempts cost no argon2"
    );

    // Other accounts are not locked out by it.
    app.register("bob").await;
    app.login("bob", None).await;

    // The window passes.
    app.clock.advance(900);
    app.login("alice", None).await;
}
