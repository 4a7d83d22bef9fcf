//! The HTML shell and the whole route table.
//!
//! Rendering design (issue 9, measured with `make bench`, docs/architecture.md,
//! "Rendering design"): Leptos islands. Every page is rendered on the server
//! only, from data the request already holds (`crate::request`): no
//! `Resource`, no `Suspense`, nothing serialised for hydration. The parts
//! that need the browser are islands, hydrated on their own: the expiry
//! countdown, the sign-out button, and the forms with in-page errors.
//! Navigation between pages is a plain page load.

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

use crate::components::header::SiteHeader;
use crate::pages::{
    AboutPage, AccountPage, ActivityPage, AdminPage, HomePage, LoginPage, NotFound, RegisterPage,
    SecurityPage, SessionsPage, StepUpPage, VerifyPage,
};

pub fn shell(options: LeptosOptions) -> impl IntoView {
    // The build's name, content-hashed at start-up when the files exist
    // (`ssr::assets`): cached for a year, replaced by the next build.
    let stylesheet = format!("/{}/{}.css", options.site_pkg_dir, options.output_name);
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                {watching().then(|| view! { <AutoReload options=options.clone()/> })}
                <script nonce=leptos::nonce::use_nonce()>{PAGE_ACTIVITY_SCRIPT}</script>
                <HydrationScripts options islands=true/>
                <link rel="stylesheet" id="leptos" href=stylesheet/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Records, from before hydration, what this page has sent that may move
/// the session to a new ID: the requests it has under way (every `fetch`,
/// counted in `data-requests` on `<html>`) and a form the browser itself is
/// sending, which leaves the page (`data-left-at`, ms; a page restored from
/// the back/forward cache has left nothing). The countdown reads both
/// (`browser::session_may_be_moving`) before it believes a "not signed in":
/// a form sent before the wasm arrived can rotate the session (a step-up,
/// turning MFA on) while the countdown's first status check still carries
/// the old cookie. Inline, with the page's CSP nonce, because it must run
/// before any form can be sent; no `<`, `>` or `&`, which would be escaped.
const PAGE_ACTIVITY_SCRIPT: &str = "(function(){var h=document.documentElement,n=0,\
f=window.fetch;function done(){n-=1;h.dataset.requests=n}window.fetch=function(){\
n+=1;h.dataset.requests=n;var p=f.apply(this,arguments);p.then(done,done);return p};\
addEventListener('submit',function(e){if(!e.defaultPrevented)h.dataset.leftAt=Date.now()});\
addEventListener('pageshow',function(e){if(e.persisted)delete h.dataset.leftAt})})()";

/// `cargo leptos watch` sets LEPTOS_WATCH; read once, not per page (AutoReload
/// reads the environment on every render otherwise).
fn watching() -> bool {
    static WATCHING: std::sync::LazyLock<bool> =
        std::sync::LazyLock::new(|| std::env::var_os("LEPTOS_WATCH").is_some());
    *WATCHING
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title text="Tessera"/>
        <Router>
            <SiteHeader/>
            <main>
                // SsrMode::Async: the whole page in one piece, never streamed
                // chunks that need JavaScript to be placed, so every page
                // works without it.
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=HomePage ssr=SsrMode::Async/>
                    <Route path=path!("/about") view=AboutPage ssr=SsrMode::Async/>
                    <Route path=path!("/register") view=RegisterPage ssr=SsrMode::Async/>
                    <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async/>
                    <Route path=path!("/login/verify") view=VerifyPage ssr=SsrMode::Async/>
                    <Route path=path!("/account") view=AccountPage ssr=SsrMode::Async/>
                    <Route path=path!("/account/security") view=SecurityPage ssr=SsrMode::Async/>
                    <Route path=path!("/account/sessions") view=SessionsPage ssr=SsrMode::Async/>
                    <Route path=path!("/account/activity") view=ActivityPage ssr=SsrMode::Async/>
                    <Route path=path!("/step-up") view=StepUpPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin") view=AdminPage ssr=SsrMode::Async/>
                </Routes>
            </main>
        </Router>
    }
}
