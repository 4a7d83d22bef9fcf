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
    assert!(page.contains("Signed in with the password"), "{page}");
    assert!(page.contains("Created the account"), "{page}");
    assert!(page.contains("Chrome 131 on Linux"));
    assert!(page.contains("127.0.0.1"));
    assert!(
        !page.contains("Failed"),
        "bob's failure is not alice's: {page}"
    );
    let page = app.page("/account/activity", &bob).await;
    // In words, marked as a failure (issue 27), never the stored record.
    assert!(
        page.contains("<span class=\"badge failed-badge\">Failed</span> <span class=\"what\">Sign-in failed: wrong username or password</span>"),
        "{page}"
    );
    let table = between(&page, "<table id=\"activity\"", "</table>")[0];
    for raw in ["{", "invalid_credentials", "sign_in", "\"method\""] {
        assert!(
            !table.contains(raw),
            "no raw record ({raw}) on the activity page: {table}"
        );
    }
    // Every row's time is a <time> with the exact instant.
    let rows = between(table, "<tr class=", "</tr>");
    assert!(rows.len() >= 2, "{table}");
    for row in rows {
        assert!(
            row.contains("<td class=\"when\"><time datetime=\"20"),
            "{row}"
        );
    }
    let res = app.get("/account/activity", None).await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "visitors sign in first"
    );
}
