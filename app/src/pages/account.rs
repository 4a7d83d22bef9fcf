use leptos::prelude::*;

use crate::api::{AccountView, NoticeKind, ABOUT_MAX, DISPLAY_NAME_MAX};
use crate::components::form::PostedError;
use crate::components::time::Time;
use crate::readable_time::TimeKind;
use crate::request::account_view;

/// Rendered from the request's session. Anonymous requests never get here:
/// the server redirects them to sign-in first (`ssr::page_data::PAGES`).
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
        device_notice,
    } = account;
    view! {
        // A sign-in from a browser and system this account had not used
        // (issue 12), until dismissed.
        {device_notice.map(|notice| match notice.kind {
            // A sign-in from impossibly far from the last (issue 25).
            NoticeKind::Travel => view! {
                <div class="notice warning" role="alert" id="travel-notice">
                    <p>
                        {notice.what} {notice.at.map(|at| view! { " (" <Time at/> ")" })}
                        " \u{2014} was this you?"
                    </p>
                    <div class="notice-actions">
                        <form method="post" action="/api/dismiss_device_notice" class="inline-form">
                            <button type="submit" id="travel-was-me" class="secondary">"It was me"</button>
                        </form>
                        <form method="post" action="/api/secure_account" class="inline-form">
                            <button type="submit" id="travel-secure">"Secure my account"</button>
                        </form>
                    </div>
                    <p class="hint">
                        "\u{201c}Secure my account\u{201d} signs you out everywhere else, then asks for a new password."
                    </p>
                </div>
            }
            .into_any(),
            NoticeKind::NewDevice => view! {
                <div class="notice warning" role="alert" id="device-notice">
                    <p>
                        "New sign-in to your account: " {notice.what}
                        {notice.at.map(|at| view! { ", " <Time at/> })}
                        ". If this was not you, "
                        <a href="/account/sessions">"end that session"</a>
                        " and change your password."
                    </p>
                    <form method="post" action="/api/dismiss_device_notice">
                        <button type="submit" id="dismiss-device-notice">"It was me"</button>
                    </form>
                </div>
            }
            .into_any(),
        })}
        // WCAG 2.2.6: the time limit is stated up front.
        <p class="notice" id="idle-policy">
            "For your security you are signed out after " {idle_timeout}
            " without activity, and at the latest " {absolute_timeout}
            " after signing in. You will be warned before and can stay signed in."
        </p>
        <dl class="account" id="account-details">
            <dt>"Username"</dt>
            <dd id="account-username">{username.clone()}</dd>
            <dt>"Signed in"</dt>
            <dd><Time at=session_started/></dd>
            <dt>"Session ends if inactive at"</dt>
            <dd id="idle-expires"><Time at=idle_expires kind=TimeKind::Deadline/></dd>
            <dt>"Session ends at the latest at"</dt>
            <dd id="absolute-expires"><Time at=absolute_expires kind=TimeKind::Deadline/></dd>
        </dl>
        {stepped_up_until.map(|until| view! {
            <p class="notice" id="step-up-status">
                "You confirmed it is you: sensitive actions need no confirmation until "
                <Time at=until kind=TimeKind::Deadline/> "."
            </p>
        })}
        <h2>"Profile"</h2>
        <p class="notice" role="status" id="draft-restored" hidden>
            "We kept what you had typed before your session ended. Check it and save."
        </p>
        <ProfileForm username>
            <form method="post" action="/api/profile" id="profile-form" data-keep-draft="true" class="stacked">
                <label>
                    "Display name"
                    <input name="display_name" id="profile-display-name" value=display_name
                        maxlength=DISPLAY_NAME_MAX autocomplete="nickname"/>
                </label>
                <label>
                    "About you"
                    <textarea name="about" id="profile-about" rows="5" maxlength=ABOUT_MAX>{about}</textarea>
                </label>
                <button type="submit">"Save profile"</button>
            </form>
        </ProfileForm>
        <p class="notice" role="status" id="profile-saved" hidden>"Saved."</p>
        <p class="form-error" role="alert" id="profile-error" hidden></p>
        <PostedError endpoint="profile"/>
        <p><a href="/account/security" id="security-link">"Security: two-step verification, passkeys, password"</a></p>
        <p><a href="/account/sessions" id="sessions-link">"Where you are signed in"</a>
            " · " <a href="/account/activity" id="activity-link">"Account activity"</a></p>
    }
}

/// An island around the server-rendered form: in-page errors and "Saved."
/// without a page load, and the draft kept when a session ended. It wires
/// the markup with a few DOM calls instead of rendering it (no reactive
/// graph on the server per page: W1, issue 9; and less Wasm). Without
/// JavaScript the form posts as it is.
#[island]
fn ProfileForm(username: String, children: Children) -> impl IntoView {
    // Effects run in the browser only, once the island is mounted.
    Effect::new(move |_| wire::install(&username));
    children()
}

mod wire {
    use leptos::prelude::{document, request_animation_frame};
    use web_sys::{HtmlElement, HtmlInputElement, HtmlTextAreaElement};

    use crate::api::save_profile;
    use crate::browser::{by_id, drafts, listen};

    const FORM: &str = "profile-form";

    fn show(id: &str, text: Option<&str>) {
        if let Some(element) = by_id::<HtmlElement>(id) {
            if text.is_some() {
                element.set_text_content(text);
            }
            element.set_hidden(false);
        }
    }

    fn hide(id: &str) {
        if let Some(element) = by_id::<HtmlElement>(id) {
            element.set_hidden(true);
        }
    }

    pub fn install(username: &str) {
        // Text kept when the session ended comes back once the form is in
        // the page (if it is not attached yet, try again at the next frame).
        if drafts::restore(username, FORM) {
            show("draft-restored", None);
        } else {
            let username = username.to_owned();
            request_animation_frame(move || {
                if drafts::restore(&username, FORM) {
                    show("draft-restored", None);
                }
            });
        }
        let Some(form) = document().get_element_by_id(FORM) else {
            return;
        };
        listen(&form, "submit", |event| {
            let (Some(name), Some(about)) = (
                by_id::<HtmlInputElement>("profile-display-name"),
                by_id::<HtmlTextAreaElement>("profile-about"),
            ) else {
                return;
            };
            event.prevent_default();
            let (name, about) = (name.value(), about.value());
            leptos::task::spawn_local(async move {
                match save_profile(name, about).await {
                    Ok(()) => {
                        hide("profile-error");
                        show("profile-saved", None);
                    }
                    Err(e) => {
                        hide("profile-saved");
                        show("profile-error", Some(&e.to_string()));
                    }
                }
            });
        });
    }
}
