//! The activity page: the user's own events.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_activity_page_shows_the_users_own_events() {
    let app = spawn_app().await;
    let alice = app.registered_and_logged_in("alice").await;
    let bob = app.registered_and_logged_in("bob").await;
    let _ = app
        .post_form(
            "/api/login",
            &[("username", "bob"), ("password", "wrong")],
            None,
        )
        .await;
    let page = app.page("/account/activity", &alice).await;
    assert!(page.contains("Sign-in"), "{page}");
    assert!(page.contains("Chrome 131 on Linux"));
    assert!(page.contains("127.0.0.1"));
    assert!(
        !page.contains("(failed)"),
        "bob's failure is not alice's: {page}"
    );
    let page = app.page("/account/activity", &bob).await;
    assert!(page.contains("Sign-in (failed)"), "{page}");
    let res = app.get("/account/activity", None).await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "visitors sign in first"
    );
}
