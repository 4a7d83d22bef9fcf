//! `/account/security`: two-step verification, recovery codes, password,
//! deleting the account. Plain forms (they work without JavaScript);
//! sensitive ones need a recent step-up, and without one the server sends
//! the browser to `/step-up`, which returns here.

use leptos::prelude::*;

use crate::api::{EnrolmentView, SecurityView};
use crate::api::{PasskeyPurpose, PasskeyView};
use crate::components::form::{CopyButton, PostedError};
use crate::components::passkey_button::PasskeyButton;
use crate::components::step_up_dialog::StepUpDialog;
use crate::components::time::Time;
use crate::readable_time::TimeKind;
use crate::request::{query_param, security_view};

/// At or below this many unused recovery codes, suggest new ones.
const FEW_CODES_LEFT: i64 = 3;

#[component]
pub fn SecurityPage() -> impl IntoView {
    let Some(view) = security_view() else {
        return view! { <p>"Please " <a href="/login?next=/account/security">"sign in"</a> "."</p> }
            .into_any();
    };
    let codes_left = query_param("codes_left").and_then(|n| n.parse::<i64>().ok());
    let passkey_notice = query_param("passkey")
        .and_then(|what| match what.as_str() {
            "added" => Some("Your passkey was added. You can sign in with it now."),
            "removed" => Some("The passkey was removed."),
            _ => None,
        })
        // "Secure my account" (the impossible-travel notice, issue 25).
        .or_else(|| {
            query_param("secured").map(|_| {
                "You were signed out everywhere else. Now choose a new password below: \
             whoever signed in elsewhere may know this one."
            })
        });
    // The passkeys named after a password change are a list with times;
    // every other notice is a sentence.
    let mut return_notice = None;
    let notice = match (codes_left, query_param("password"), query_param("mfa")) {
        (Some(left), _, _) => Some(format!(
            "You used a recovery code. You have {left} left.{}",
            if left <= FEW_CODES_LEFT {
                " Make new ones soon, so that you are not locked out."
            } else {
                ""
            }
        )),
        (_, Some(_), _) if view.passkeys.is_empty() => {
            Some("Your password was changed. You were signed out everywhere else.".to_owned())
        }
        // A passkey signs in without the password: after a change (often
        // made because the account was taken over), name each one, so
        // that one the user does not know is removed (review E4).
        (_, Some(_), _) => {
            let passkeys = view
                .passkeys
                .iter()
                .map(|p| {
                    view! {
                        <li>"\u{201c}" {p.name.clone()} "\u{201d} (added " <Time at=p.created/> ")"</li>
                    }
                })
                .collect_view();
            return_notice = Some(
                view! {
                    <div class="notice" role="status" id="security-notice">
                        <p>
                            "Your password was changed. You were signed out everywhere else. \
                             These passkeys can still sign in without it:"
                        </p>
                        <ul>{passkeys}</ul>
                        <p>"Remove any you do not recognise below."</p>
                    </div>
                }
                .into_any(),
            );
            None
        }
        (_, _, Some(_)) => {
            Some("Two-step verification is off. You were signed out everywhere else.".to_owned())
        }
        _ => passkey_notice.map(str::to_owned),
    }
    .map(|text| view! { <p class="notice" role="status" id="security-notice">{text}</p> }.into_any())
    .or(return_notice);
    let required = view.must_enrol.then(|| {
        view! {
            <p class="notice" role="status" id="mfa-required">
                "Your account requires two-step verification. Turn it on to continue."
            </p>
        }
    });
    let stepped_up = view.stepped_up_until.map(|until| {
        view! {
            <p class="notice" id="step-up-status">
                "You confirmed it is you. Sensitive actions are allowed until "
                <Time at=until kind=TimeKind::Deadline/> "."
            </p>
        }
    });
    let (mfa_enabled, fresh_for_ms) = (view.mfa_enabled, view.step_up_fresh_for_ms);
    let has_passkey = !view.passkeys.is_empty();
    let passkeys = mfa_enabled.then(|| view! { <Passkeys passkeys=view.passkeys.clone()/> });
    view! {
        <h1>"Security"</h1>
        {required}
        {notice}
        {stepped_up}
        <StepUpDialog mfa_enabled has_passkey fresh_for_ms/>
        <TwoStep view/>
        {passkeys}
        <section aria-labelledby="password-heading">
            <h2 id="password-heading">"Password"</h2>
            <form method="post" action="/api/change_password" data-step-up="" class="stacked" id="password-form">
                <label>
                    "New password"
                    <input type="password" name="password" autocomplete="new-password" required/>
                </label>
                <label>
                    "Confirm new password"
                    <input type="password" name="password_confirm" autocomplete="new-password" required/>
                </label>
                <button type="submit">"Change password"</button>
            </form>
            <PostedError endpoint="change_password"/>
        </section>
        <section aria-labelledby="delete-heading">
            <h2 id="delete-heading">"Delete your account"</h2>
            <p>"This removes your account and everything in it, and signs you out everywhere. It cannot be undone."</p>
            <form method="post" action="/api/delete_account" data-step-up="" class="stacked" id="delete-form">
                <label>
                    "Type your username to confirm"
                    <input name="confirm_username" autocomplete="off" required/>
                </label>
                <button type="submit" class="danger">"Delete my account"</button>
            </form>
            <PostedError endpoint="delete_account"/>
        </section>
        <p><a href="/account">"Back to your account"</a></p>
    }
    .into_any()
}

#[component]
fn TwoStep(view: SecurityView) -> impl IntoView {
    let body = if !view.new_recovery_codes.is_empty() {
        view! { <NewRecoveryCodes codes=view.new_recovery_codes/> }.into_any()
    } else if let Some(enrolment) = view.enrolment {
        view! { <Enrolment enrolment/> }.into_any()
    } else if view.mfa_enabled {
        let left = view.recovery_codes_left;
        let few = (left <= FEW_CODES_LEFT).then(|| {
            view! { <strong>" Make new ones soon."</strong> }
        });
        let short = view.recovery_codes_short.then(|| {
            view! {
                <p class="notice" id="codes-short">
                    "Your recovery codes are of an older, shorter kind. They still work, but "
                    "please make new ones: the new codes are longer and much harder to guess."
                </p>
            }
        });
        view! {
            <p id="mfa-status">"Two-step verification is " <strong>"on"</strong> "."</p>
            <p id="codes-left">"Unused recovery codes: " {left} "." {few}</p>
            {short}
            <form method="post" action="/api/recovery_codes_renew" data-step-up="" class="inline-form" id="renew-form">
                <button type="submit">"Make new recovery codes"</button>
            </form>
            <PostedError endpoint="recovery_codes_renew"/>
            <form method="post" action="/api/mfa_disable" data-step-up="" class="inline-form" id="disable-form">
                <button type="submit" class="danger">"Turn off two-step verification"</button>
            </form>
            <PostedError endpoint="mfa_disable"/>
        }
        .into_any()
    } else if view.mfa_available {
        view! {
            <p id="mfa-status">"Two-step verification is " <strong>"off"</strong> "."</p>
            <p>"With it on, signing in needs a code from an authenticator app as well as your password."</p>
            <form method="post" action="/api/mfa_begin" data-step-up="" class="inline-form" id="begin-form">
                <button type="submit">"Turn on two-step verification"</button>
            </form>
            <PostedError endpoint="mfa_begin"/>
        }
        .into_any()
    } else {
        view! {
            <p id="mfa-status">
                "Two-step verification is not available on this server (it has no key to protect the secrets)."
            </p>
        }
        .into_any()
    };
    view! {
        <section aria-labelledby="two-step-heading">
            <h2 id="two-step-heading">"Two-step verification"</h2>
            {body}
        </section>
    }
}

#[component]
fn Enrolment(enrolment: EnrolmentView) -> impl IntoView {
    let EnrolmentView {
        qr_svg,
        secret_base32,
    } = enrolment;
    view! {
        <ol class="steps">
            <li>"Scan this code with your authenticator app:"
                // Markup made on the server by the qrcode crate from our own
                // data: no image request, no data: URL.
                <div class="qr" role="img" aria-label="QR code for your authenticator app" inner_html=qr_svg></div>
            </li>
            <li>"Or type this key into the app: " <code id="totp-secret">{secret_base32}</code></li>
            <li>"Enter the 6-digit code the app shows:"</li>
        </ol>
        <form method="post" action="/api/mfa_confirm" data-step-up="" class="stacked" id="confirm-form">
            <label>
                "Code"
                <input name="code" id="confirm-code" autocomplete="one-time-code" inputmode="numeric"
                    required maxlength="16" autofocus/>
            </label>
            <button type="submit">"Turn on"</button>
        </form>
        <PostedError endpoint="mfa_confirm"/>
        <form method="post" action="/api/mfa_cancel" class="inline-form">
            <button type="submit">"Cancel"</button>
        </form>
    }
}

#[component]
fn NewRecoveryCodes(codes: Vec<String>) -> impl IntoView {
    view! {
        <p id="mfa-status">"Two-step verification is " <strong>"on"</strong> "."</p>
        <p role="status">
            "These are your recovery codes. Each works once, if you lose your phone. "
            "Save them somewhere safe now: they are not shown again."
        </p>
        <ol id="recovery-codes" class="codes">
            {codes.into_iter().map(|code| view! { <li><code>{code}</code></li> }).collect_view()}
        </ol>
        <p>
            <CopyButton target="recovery-codes".to_owned()/>
            " "
            <a href="/account/security/recovery-codes.txt" download="tessera-recovery-codes.txt" id="download-codes">"Download as a text file"</a>
        </p>
        <form method="post" action="/api/recovery_codes_saved" class="inline-form" id="saved-form">
            <button type="submit">"I have saved them"</button>
        </form>
    }
}

/// Passkeys: listed with when they were added and last used; renamed;
/// removed and added after a step-up (issue 11).
#[component]
fn Passkeys(passkeys: Vec<PasskeyView>) -> impl IntoView {
    let list = if passkeys.is_empty() {
        view! { <p id="no-passkeys">"You have no passkey yet."</p> }.into_any()
    } else {
        view! {
            <ul id="passkey-list" class="passkeys">
                {passkeys.into_iter().map(|p| view! { <PasskeyItem passkey=p/> }).collect_view()}
            </ul>
        }
        .into_any()
    };
    view! {
        <section aria-labelledby="passkeys-heading" id="passkeys">
            <h2 id="passkeys-heading">"Passkeys"</h2>
            <p>
                "A passkey signs you in with your fingerprint, face or device PIN, with no password "
                "and no code, and cannot be phished. It also confirms sensitive actions."
            </p>
            {list}
            <PostedError endpoint="passkey_rename"/>
            <PostedError endpoint="passkey_remove"/>
            <PasskeyButton purpose=PasskeyPurpose::Register button_id="add-passkey".to_owned()
                error_id="passkey-error".to_owned() name_input_id="passkey-name".to_owned()>
                <div class="stacked">
                    <label>
                        "Name of the new passkey"
                        <input id="passkey-name" maxlength="64" value="My passkey" autocomplete="off"/>
                    </label>
                    <button type="button" id="add-passkey" hidden>"Add a passkey"</button>
                </div>
            </PasskeyButton>
            <p class="form-error" role="alert" id="passkey-error" hidden></p>
            <noscript><p>"Adding a passkey needs JavaScript."</p></noscript>
        </section>
    }
}

#[component]
fn PasskeyItem(passkey: PasskeyView) -> impl IntoView {
    let PasskeyView {
        id,
        name,
        created,
        last_used,
    } = passkey;
    let used = match last_used {
        Some(at) => view! { "last used " <Time at/> }.into_any(),
        None => "never used".into_any(),
    };
    view! {
        <li class="passkey">
            <strong class="passkey-name">{name.clone()}</strong>
            " (added " <Time at=created/> ", " <span class="passkey-used">{used}</span> ")"
            <form method="post" action="/api/passkey_rename" class="inline-form">
                <input type="hidden" name="id" value=id/>
                <label>
                    "New name "
                    <input name="name" maxlength="64" required value=name/>
                </label>
                <button type="submit">"Rename"</button>
            </form>
            <form method="post" action="/api/passkey_remove" data-step-up="" class="inline-form">
                <input type="hidden" name="id" value=id/>
                <button type="submit" class="danger">"Remove"</button>
            </form>
        </li>
    }
}
