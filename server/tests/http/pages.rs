//! Server-rendered pages (islands, issue 9): the data comes from the
//! request, the interactive parts are islands, nothing waits on a resource.

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_about_page_states_the_policy_in_force_without_a_session() {
    let app = spawn_app_with(|s| {
        s.session.idle_timeout_secs = 900;
        s.session.max_per_user = 3;
    })
    .await;
    let res = app.get("/about", None).await;
    assert_eq!(res.status(), 200);
    assert!(session_set_cookie(res.headers()).is_none());
    let html = res.text().await.expect("body");
    assert!(html.contains("15 minutes"), "the idle timeout in force");
    assert!(html.contains("8 hours"));
    assert!(html.contains("up to 3 sessions"));
    // A page with no island loads no wasm island code but the loader.
    assert!(!html.contains("<leptos-island"), "{html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_page_is_rendered_whole_with_its_islands() {
    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("alice").await;
    let html = app
        .get("/account", Some(&sid))
        .await
        .text()
        .await
        .expect("body");
    // The request's own data, in the first response: no loading state.
    assert!(
        html.contains(r#"<dd id="account-username">alice"#),
        "{html}"
    );
    assert!(!html.contains("Loading"));
    // The interactive parts are islands, and only they. Sign-out is a
    // plain form (the countdown island watches it).
    for island in ["Countdown", "ProfileForm"] {
        assert!(
            html.contains(&format!("data-component=\"{island}_")),
            "{island} is not an island: {html}"
        );
    }
    assert_eq!(html.matches("<leptos-island").count(), 2, "{html}");
    assert!(html.contains(r#"<form method="post" action="/api/logout""#));
}

/// The route table (`app::app::App`) and the declaration of each page
/// (`page_data::PAGES`) name the same pages; a page that needs a user
/// sends a visitor to sign in, every other page answers a visitor; the
/// page an enrolling session is held on is one it may reach.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_says_who_may_see_it_and_is_held_to_it() {
    use app::ssr::page_data::{page, Visitors, PAGES};
    let enrolment = page(app::ssr::mfa::sign_in::ENROLMENT_PAGE).expect("a page");
    assert!(enrolment.while_enrolling && enrolment.visitors == Visitors::SignInFirst);
    let routes: std::collections::BTreeSet<String> =
        leptos_axum::generate_route_list(app::app::App)
            .iter()
            .map(|route| route.path().to_owned())
            .collect();
    let listed: std::collections::BTreeSet<String> = PAGES
        .iter()
        .map(|page| page.path.to_owned())
        .filter(|path| !path.ends_with(".txt"))
        .collect();
    assert_eq!(routes, listed, "the route table and PAGES differ");

    let app = spawn_app().await;
    for page in PAGES {
        let path = page.path;
        let res = app.get(path, None).await;
        match page.visitors {
            Visitors::SignInFirst => {
                assert_eq!(res.status(), 303, "{path}");
                assert!(location(&res).starts_with("/login?next="), "{path}");
            }
            Visitors::Welcome => assert_eq!(res.status(), 200, "{path}"),
        }
    }
}
