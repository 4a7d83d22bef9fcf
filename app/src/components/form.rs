//! Pieces shared by the forms.

use leptos::prelude::*;

use crate::api::AppError;
use crate::request::query_param;

/// The error of the last submission, announced to screen readers.
#[component]
pub fn FormError(#[prop(into)] error: Signal<Option<AppError>>) -> impl IntoView {
    move || {
        error.get().map(|e| {
            view! { <p class="form-error" role="alert">{e.to_string()}</p> }
        })
    }
}

/// The error of a plain form post (no island): Leptos sends the browser
/// back to the form with the error in the URL (`__path` names the server
/// function, `__err` carries the error); the page shows it next to the
/// form that `endpoint` names.
#[component]
pub fn PostedError(endpoint: &'static str) -> impl IntoView {
    use leptos::server_fn::error::ServerFnUrlError;

    let error = query_param("__err").filter(|_| {
        query_param("__path").is_some_and(|path| path.trim_start_matches("/api/") == endpoint)
    });
    let error = error.map(|err| ServerFnUrlError::<AppError>::decode_err(&err));
    error.map(|e| view! { <p class="form-error" role="alert">{e.to_string()}</p> })
}

/// "Copy": puts the text of the element `target` on the clipboard. Hidden
/// until hydrated (it needs JavaScript; the text stays selectable).
#[island]
pub fn CopyButton(target: String) -> impl IntoView {
    let copied = RwSignal::new(false);
    let ready = RwSignal::new(false);
    Effect::new(move |_| ready.set(true));
    view! {
        <button type="button" class="secondary" hidden=move || !ready.get()
            on:click=move |_| copied.set(crate::browser::copy_text_of(&target))>
            {move || if copied.get() { "Copied" } else { "Copy" }}
        </button>
    }
}
