use leptos::prelude::*;

#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <h1>"Tessera"</h1>
        <p class="lead">
            "Session management done the way OWASP recommends: server-side sessions, "
            "rotation at every sign-in, idle and absolute timeouts, and a real sign-out."
        </p>
        <p class="actions">
            <a class="button" href="/login">"Sign in"</a>
            <a class="button secondary" href="/register">"Create an account"</a>
            <a href="/account">"Go to your account"</a>
            <a href="/about">"How your session is protected"</a>
        </p>
    }
}
