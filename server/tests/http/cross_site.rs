use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_site_sign_in_post_is_refused() {
    let app = spawn_app().await;
    app.register("alice").await;
    let form = [("username", "alice"), ("password", PASSWORD)];

    let res = app
        .http
        .post(app.url("/api/login"))
        .header("origin", "http://evil.example")
        .form(&form)
        .send()
        .await
        .expect("POST");
    assert_eq!(res.status(), 403);
    assert!(session_set_cookie(res.headers()).is_none());
    assert_eq!(res.headers()["content-type"], "application/json");
    assert_eq!(res.text().await.expect("body"), "\"CrossSite\"");

    let res = app
        .http
        .post(app.url("/api/login"))
        .header("sec-fetch-site", "cross-site")
        .form(&form)
        .send()
        .await
        .expect("POST");
    assert_eq!(res.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_site_logout_cannot_end_a_session() {
    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("alice").await;
    let res = app
        .http
        .post(app.url("/api/logout"))
        .header("origin", "http://evil.example")
        .header("cookie", format!("__Host-sid={sid}"))
        .send()
        .await
        .expect("POST");
    assert_eq!(res.status(), 403);
    assert!(app.is_signed_in(&sid).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_origin_posts_are_accepted() {
    let app = spawn_app().await;
    app.register("alice").await;
    let res = app
        .http
        .post(app.url("/api/login"))
        .header("origin", &app.base)
        .header("sec-fetch-site", "same-origin")
        .form(&[("username", "alice"), ("password", PASSWORD)])
        .send()
        .await
        .expect("POST");
    assert_eq!(res.status(), 200);
}
