use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_deletes_the_row_and_the_replayed_cookie_is_anonymous() {
    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("alice").await;
    assert_eq!(app.session_rows().await, 1);

    let res = app.post_html_form("/api/logout", &[], Some(&sid)).await;

    assert_eq!(res.status(), 302);
    assert_eq!(location(&res), "/login?reason=signed_out");
    assert_eq!(res.headers()["clear-site-data"], "\"cache\", \"cookies\"");
    let removal = session_set_cookie(res.headers()).expect("a removal cookie");
    assert_eq!(removal.value, "");
    assert_eq!(removal.max_age(), Some(0));
    // The browser drops a __Host- cookie only if the removal matches it.
    assert!(
        removal.has("Secure") && removal.has("HttpOnly"),
        "{removal:?}"
    );
    assert_eq!(removal.attr("Path").as_deref(), Some("/"));
    assert_eq!(removal.attr("SameSite").as_deref(), Some("Strict"));
    assert_eq!(app.session_rows().await, 0);

    // Replay after logout.
    assert!(!app.is_signed_in(&sid).await);
    let res = app.post_form("/api/account", &[], Some(&sid)).await;
    assert_eq!(res.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_is_post_only() {
    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("alice").await;
    let res = app.get("/api/logout", Some(&sid)).await;
    assert_eq!(res.status(), 405);
    assert!(app.is_signed_in(&sid).await);
}

/// A request that finds its session gone sends no cookie at all: not a
/// removal, which would also clear a newer cookie that a parallel sign-in
/// just gave this browser (issue 8). The stale cookie expires by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_with_a_dead_session_sends_no_cookie() {
    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("alice").await;
    let out = app.post_form("/api/logout", &[], Some(&sid)).await;
    assert_eq!(out.status(), 200);
    for cookie in [sid.as_str(), "AAAAAAAAAAAAAAAAAAAAAA"] {
        let res = app.get("/account", Some(cookie)).await;
        assert_eq!(res.status(), 303);
        assert!(session_set_cookie(res.headers()).is_none(), "{cookie}");
        let res = app.post_form("/api/whoami", &[], Some(cookie)).await;
        assert!(session_set_cookie(res.headers()).is_none(), "{cookie}");
    }
}
