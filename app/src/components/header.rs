//! The header of every page: who is signed in, and the sign-out button.

use leptos::prelude::*;
use leptos_router::hooks::use_location;

use crate::api::{current_username, Logout};
use crate::browser;
use crate::components::session_timer::SessionTimer;
use crate::countdown::TabMessage;

#[component]
pub fn SiteHeader() -> impl IntoView {
    let location = use_location();
    // Re-asked on every navigation, so sign-in and sign-out show at once.
    let user = Resource::new(move || location.pathname.get(), |_| current_username());
    view! {
        <header class="site-header">
            <a href="/" class="brand">"Tessera"</a>
            <nav>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        match user.await {
                            // Every authenticated page carries the countdown.
                            Ok(Some(name)) => view! {
                                <span class="who">"Signed in as " <strong>{name.clone()}</strong></span>
                                <a href="/account">"Account"</a>
                                <SignOutButton/>
                                <SessionTimer username=name/>
                            }.into_any(),
                            _ => view! {
                                <a href="/login">"Sign in"</a>
                                <a href="/register">"Create account"</a>
                            }.into_any(),
                        }
                    })}
                </Suspense>
            </nav>
        </header>
    }
}

/// Sign-out is a POST (a GET could be triggered by any image tag).
#[component]
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
