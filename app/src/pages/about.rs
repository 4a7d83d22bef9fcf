//! What the session policy is, for anyone: the limits a person meets,
//! stated before they meet them (WCAG 2.2.6), and the page `make bench`
//! uses as the floor (F): the same shell and router, no session, no data
//! beyond the settings.

use leptos::prelude::*;

use crate::request::policy_view;

#[component]
pub fn AboutPage() -> impl IntoView {
    let policy = policy_view().map(|p| {
        let concurrent = match p.max_per_user {
            0 => "as many sessions as you like, on as many devices".to_owned(),
            1 => "one session at a time; signing in elsewhere ends the older one".to_owned(),
            n => format!(
                "up to {n} sessions at a time; signing in beyond that ends the least recently used"
            ),
        };
        view! {
            <dl class="account" id="policy">
                <dt>"Signed out after inactivity"</dt>
                <dd id="policy-idle">{p.idle_timeout}</dd>
                <dt>"Signed out at the latest, after signing in"</dt>
                <dd id="policy-absolute">{p.absolute_timeout}</dd>
                <dt>"Warning before an inactivity sign-out"</dt>
                <dd>{p.warn_before} ", with a button to stay signed in"</dd>
                <dt>"Sessions per account"</dt>
                <dd>{concurrent}</dd>
                <dt>"Failed sign-ins before a pause"</dt>
                <dd>
                    {p.max_failures_per_account} " per account and address, "
                    {p.max_failures_per_address} " per address, in " {p.failure_window}
                    "; then each further try waits longer (1 s, 2 s, 4 s ... up to 15 minutes)"
                </dd>
                <dt>"Passwords"</dt>
                <dd>"at least " {p.password_min_length} " characters, hard to guess"</dd>
            </dl>
        }
    });
    view! {
        <h1>"How Tessera keeps your session safe"</h1>
        <p class="lead">
            "Your session lives on the server; your browser holds only a random "
            "identifier in a cookie that scripts cannot read and other sites cannot send."
        </p>
        {policy}
    }
}
