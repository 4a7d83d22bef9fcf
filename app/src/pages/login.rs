use leptos::prelude::*;

use crate::api::{Login, PasskeyPurpose};
use crate::browser;
use crate::components::form::FormError;
use crate::components::passkey_button::PasskeyButton;
use crate::countdown::TabMessage;
use crate::request::{query_param, signed_in_username};

/// Why the user is on the sign-in page, in plain words.
fn notice(reason: Option<&str>, registered: bool) -> Option<&'static str> {
    if registered {
        return Some("Your account was created. Please sign in.");
    }
    match reason? {
        "idle" => {
            Some("You were signed out because you were inactive for a while. Please sign in again.")
        }
        "absolute" => Some("Your session reached its maximum length. Please sign in again."),
        "signed_out" => Some("You have signed out."),
        "ended" => Some("Your session has ended. Please sign in again."),
        _ => None,
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let next = query_param("next").unwrap_or_default();
    let message = notice(
        query_param("reason").as_deref(),
        query_param("registered").is_some(),
    )
    .map(|text| view! { <p class="notice" role="status">{text}</p> });
    // Just signed out (and no session now): the other tabs follow. Told
    // from here, they load the sign-in page after the session is gone.
    let announce_signed_out =
        query_param("reason").as_deref() == Some("signed_out") && signed_in_username().is_none();
    view! {
        <h1>"Sign in"</h1>
        {message}
        <LoginForm announce_signed_out>
            <input type="hidden" name="next" value=next/>
            <label>
                "Username"
                <input name="username" autocomplete="username" required/>
            </label>
            <label>
                "Password"
                <input type="password" name="password" autocomplete="current-password" required/>
            </label>
            <button type="submit">"Sign in"</button>
        </LoginForm>
        <PasskeyButton purpose=PasskeyPurpose::SignIn button_id="passkey-sign-in".to_owned()
            error_id="passkey-sign-in-error".to_owned()>
            <p><button type="button" id="passkey-sign-in" class="secondary" hidden>"Sign in with a passkey"</button></p>
        </PasskeyButton>
        <p class="form-error" role="alert" id="passkey-sign-in-error" hidden></p>
        <p>"No account yet? " <a href="/register">"Create one"</a></p>
    }
}

/// An island: the error of a failed sign-in shows in the page. The fields
/// are server-rendered children (no Wasm for them).
#[island]
fn LoginForm(announce_signed_out: bool, children: Children) -> impl IntoView {
    Effect::new(move |_| {
        if announce_signed_out {
            browser::post_to_other_tabs(&TabMessage::SignedOut);
        }
    });
    let login = ServerAction::<Login>::new();
    let error = Signal::derive(move || login.value().get().and_then(Result::err));
    view! {
        <ActionForm action=login attr:id="login-form" attr:class="stacked">
            {children()}
        </ActionForm>
        <FormError error/>
    }
}
