use leptos::prelude::*;
use leptos_router::components::Redirect;

use crate::api::{get_account, AppError};

#[component]
pub fn AccountPage() -> impl IntoView {
    let account = Resource::new(|| (), |_| get_account());
    view! {
        <h1>"Your account"</h1>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match account.await {
                    Ok(a) => view! {
                        <p class="notice" id="idle-policy">
                            "For your security you are signed out after "
                            {a.idle_timeout} " without activity, and at the latest "
                            {a.absolute_timeout} " after signing in."
                        </p>
                        <dl class="account" id="account-details">
                            <dt>"Username"</dt>
                            <dd id="account-username">{a.username}</dd>
                            <dt>"Signed in at"</dt>
                            <dd>{a.session_started}</dd>
                            <dt>"Session ends if inactive at"</dt>
                            <dd id="idle-expires">{a.idle_expires}</dd>
                            <dt>"Session ends at the latest at"</dt>
                            <dd id="absolute-expires">{a.absolute_expires}</dd>
                        </dl>
                    }.into_any(),
                    // Reached by client-side navigation after the session ended.
                    Err(AppError::Unauthenticated) => view! {
                        <Redirect path="/login?next=/account"/>
                    }.into_any(),
                    Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}
