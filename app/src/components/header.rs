//! The header of every page: who is signed in, and the sign-out button.

use leptos::prelude::*;

use crate::components::session_timer::{SessionTimer, SIGN_OUT_FORM_ID};
use crate::request::signed_in_names;

/// Rendered on the server from the request's session; every navigation is
/// a page load, so it is always current.
#[component]
pub fn SiteHeader() -> impl IntoView {
    let nav = match signed_in_names() {
        // Every authenticated page carries the countdown.
        Some((name, display_name)) => view! {
            <Greeting username=name.clone() display_name/>
            <a href="/account">"Account"</a>
            <SignOutButton/>
            <SessionTimer username=name/>
        }
        .into_any(),
        None => view! {
            <a href="/login">"Sign in"</a>
            <a href="/register">"Create account"</a>
        }
        .into_any(),
    };
    view! {
        <header class="site-header">
            <a href="/" class="brand">"Tessera"</a>
            <nav>{nav}</nav>
        </header>
    }
}

/// The profile's display name when set, with the username beside it (a
/// display name is the user's own words: it could read like another
/// account's name); the username otherwise.
#[component]
fn Greeting(username: String, display_name: String) -> impl IntoView {
    let display_name = display_name.trim().to_owned();
    if display_name.is_empty() || display_name == username {
        return view! { <span class="who">"Signed in as " <strong>{username}</strong></span> }
            .into_any();
    }
    view! {
        <span class="who">
            "Hello, " <strong>{display_name}</strong> " "
            <span class="username">"(" {username} ")"</span>
        </span>
    }
    .into_any()
}

/// Sign-out is a POST (a GET could be triggered by any image tag). A plain
/// form: the server answers with a redirect to the sign-in page, which
/// tells the other tabs (`LoginForm`). One island fewer per signed-in page
/// (Wasm bundle and render time, issue 9).
#[component]
pub fn SignOutButton() -> impl IntoView {
    view! {
        <form method="post" action="/api/logout" class="inline-form" id=SIGN_OUT_FORM_ID>
            <button type="submit" class="secondary">"Sign out"</button>
        </form>
    }
}
