use leptos::prelude::*;

use crate::api::{AccountView, SaveProfile, ABOUT_MAX, DISPLAY_NAME_MAX};
use crate::browser::drafts;
use crate::components::form::FormError;
use crate::request::account_view;

/// Rendered from the request's session. Anonymous requests never get here:
/// the server redirects them to sign-in first (`web::PROTECTED_PAGES`).
#[component]
pub fn AccountPage() -> impl IntoView {
    let details = match account_view() {
        Some(account) => view! { <AccountDetails account/> }.into_any(),
        None => view! {
            <p>"Please " <a href="/login?next=/account">"sign in"</a> " to see your account."</p>
        }
        .into_any(),
    };
    view! {
        <h1>"Your account"</h1>
        {details}
    }
}

#[component]
fn AccountDetails(account: AccountView) -> impl IntoView {
    let AccountView {
        username,
        session_started,
        idle_expires,
        absolute_expires,
        idle_timeout,
        absolute_timeout,
        display_name,
        about,
        stepped_up_until,
    } = account;
    view! {
        // WCAG 2.2.6: the time limit is stated up front.
        <p class="notice" id="idle-policy">
            "For your security you are signed out after " {idle_timeout}
            " without activity, and at the latest " {absolute_timeout}
            " after signing in. You will be warned before and can stay signed in."
        </p>
        <dl class="account" id="account-details">
            <dt>"Username"</dt>
            <dd id="account-username">{username.clone()}</dd>
            <dt>"Signed in at"</dt>
            <dd>{session_started}</dd>
            <dt>"Session ends if inactive at"</dt>
            <dd id="idle-expires">{idle_expires}</dd>
            <dt>"Session ends at the latest at"</dt>
            <dd id="absolute-expires">{absolute_expires}</dd>
        </dl>
        {stepped_up_until.map(|until| view! {
            <p class="notice" id="step-up-status">
                "You confirmed it is you: sensitive actions need no confirmation until " {until} "."
            </p>
        })}
        <ProfileForm username>
            <label>
                "Display name"
                <input name="display_name" value=display_name maxlength=DISPLAY_NAME_MAX autocomplete="nickname"/>
            </label>
            <label>
                "About you"
                <textarea name="about" rows="5" maxlength=ABOUT_MAX>{about}</textarea>
            </label>
            <button type="submit">"Save profile"</button>
        </ProfileForm>
        <p><a href="/account/security" id="security-link">"Security: two-step verification, password"</a></p>
    }
}

/// An island: in-page errors, and the draft kept when a session ended. The
/// fields are server-rendered children: their values are in the page once,
/// not again as island props, and they cost no Wasm.
#[island]
fn ProfileForm(username: String, children: Children) -> impl IntoView {
    let save = ServerAction::<SaveProfile>::new();
    let error = Signal::derive(move || save.value().get().and_then(Result::err));
    let restored = RwSignal::new(false);
    // Text kept when the session ended comes back once the form is in the
    // page (effects run in the browser only, after mounting; if the form is
    // not attached yet, try again at the next frame).
    Effect::new(move |_| {
        let username = username.clone();
        if drafts::restore(&username, "profile-form") {
            restored.set(true);
        } else {
            request_animation_frame(move || {
                if drafts::restore(&username, "profile-form") {
                    restored.set(true);
                }
            });
        }
    });
    view! {
        <h2>"Profile"</h2>
        {move || restored.get().then(|| view! {
            <p class="notice" role="status" id="draft-restored">
                "We kept what you had typed before your session ended. Check it and save."
            </p>
        })}
        <ActionForm action=save attr:id="profile-form" attr:data-keep-draft="true" attr:class="stacked">
            {children()}
        </ActionForm>
        {move || matches!(save.value().get(), Some(Ok(()))).then(|| view! {
            <p class="notice" role="status" id="profile-saved">"Saved."</p>
        })}
        <FormError error/>
    }
}
