//! The header of every page: who is signed in, and the sign-out button.

use leptos::prelude::*;

use crate::api::Logout;
use crate::browser;
use crate::components::session_timer::SessionTimer;
use crate::countdown::TabMessage;
use crate::request::signed_in_username;

/// Rendered on the server from the request's session; every navigation is
/// a page load, so it is always current.
#[component]
pub fn SiteHeader() -> impl IntoView {
    let nav = match signed_in_username() {
        // Every authenticated page carries the countdown.
        Some(name) => view! {
            <span class="who">"Signed in as " <strong>{name.clone()}</strong></span>
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

/// Sign-out is a POST (a GET could be triggered by any image tag). An
/// island: before it leaves, it tells the other tabs.
#[island]
pub fn SignOutButton() -> impl IntoView {
    let logout = ServerAction::<Logout>::new();
    view! {
        // Other tabs follow to the sign-in page.
        <ActionForm
            action=logout
            attr:class="inline-form"
            on:submit=|_| {
                browser::set_signing_out(true);
                browser::post_to_other_tabs(&TabMessage::SignedOut);
            }
        >
            <button type="submit" class="secondary">"Sign out"</button>
        </ActionForm>
    }
}
