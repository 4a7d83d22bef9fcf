//! The step-up dialog: a sensitive form (marked `data-step-up`) submitted
//! without a recent step-up opens this dialog instead of leaving the page;
//! once the user has confirmed it is them, the form is submitted as it
//! was, with the values already entered (issue 10).
//!
//! The forms stay plain HTML forms: without JavaScript (or before
//! hydration) the server sends them to the `/step-up` page and back. The
//! server decides in every case; this only spares a page load.
//!
//! The dialog's markup is rendered on the server (`StepUpDialog`, a plain
//! component); the island (`StepUpGuard`) only wires it up with a few DOM
//! calls. A Leptos view of the same dialog cost 10 KB of the budgeted Wasm
//! bundle (brotli, measured with `make bench`'s bundle size); this costs
//! about a tenth of that.

use leptos::prelude::*;

/// Submitting this close to the end of the window asks again: the post
/// must reach the server while the step-up still holds.
const MARGIN_MS: i64 = 5_000;

/// The dialog, hidden until a sensitive form needs it. `mfa_enabled`
/// decides what it asks for: a code (or a recovery code), else the
/// password.
#[component]
pub fn StepUpDialog(
    mfa_enabled: bool,
    fresh_for_ms: i64,
    /// The account has a passkey: offered first (issue 11).
    #[prop(optional)]
    has_passkey: bool,
) -> impl IntoView {
    let (label, kind, autocomplete, inputmode) = if mfa_enabled {
        (
            "Code from your authenticator app",
            "text",
            "one-time-code",
            "numeric",
        )
    } else {
        ("Your password", "password", "current-password", "text")
    };
    view! {
        <StepUpGuard fresh_for_ms>
            <div class="dialog-backdrop" id="step-up-dialog" hidden>
                <div role="dialog" aria-modal="true" aria-labelledby="step-up-title" class="dialog">
                    <h2 id="step-up-title">"Confirm it is you"</h2>
                    <p>"This action needs a recent confirmation. What you entered is kept."</p>
                    {has_passkey.then(|| view! {
                        <p>
                            <button type="button" id="step-up-passkey" hidden>"Confirm with your passkey"</button>
                        </p>
                        <p class="or">"Or:"</p>
                    })}
                    <form class="stacked" id="step-up-dialog-form">
                        <input type="hidden" name="method" id="step-up-method" value="totp"/>
                        <label>
                            <span id="step-up-label">{label}</span>
                            <input name="secret" id="step-up-field" required type=kind
                                autocomplete=autocomplete inputmode=inputmode/>
                        </label>
                        <div class="dialog-actions">
                            <button type="submit">"Confirm"</button>
                            <button type="button" id="step-up-cancel">"Cancel"</button>
                        </div>
                    </form>
                    <p class="form-error" role="alert" id="step-up-error" hidden></p>
                    {mfa_enabled.then(|| view! {
                        <button type="button" class="link" id="step-up-switch">"Use a recovery code instead"</button>
                    })}
                </div>
            </div>
        </StepUpGuard>
    }
}

/// The island: wires up the server-rendered dialog in its children.
#[island]
fn StepUpGuard(fresh_for_ms: i64, children: Children) -> impl IntoView {
    // Effects run in the browser only, once the island is mounted.
    Effect::new(move |_| wire::install(fresh_for_ms));
    children()
}

/// The browser side, plain DOM calls. Listeners live as long as the page.
mod wire {
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;

    use leptos::prelude::window;
    use wasm_bindgen::JsCast;
    use web_sys::{HtmlElement, HtmlFormElement, HtmlInputElement};

    use super::MARGIN_MS;
    use crate::api::{step_up, PasskeyPurpose, SecondFactorMethod, Secret};
    use crate::browser::{by_id, listen, now_ms};
    use crate::components::passkey_button::ceremony;

    pub fn install(fresh_for_ms: i64) {
        let (Some(dialog), Some(form), Some(field), Some(method), Some(error)) = (
            by_id::<HtmlElement>("step-up-dialog"),
            by_id::<HtmlFormElement>("step-up-dialog-form"),
            by_id::<HtmlInputElement>("step-up-field"),
            by_id::<HtmlInputElement>("step-up-method"),
            by_id::<HtmlElement>("step-up-error"),
        ) else {
            return;
        };
        let fresh_until = Rc::new(Cell::new(now_ms().saturating_add(fresh_for_ms)));
        let waiting: Rc<RefCell<Option<HtmlFormElement>>> = Rc::new(RefCell::new(None));

        // Sensitive forms anywhere on the page come through here first.
        listen(&window(), "submit", {
            let (dialog, field, error) = (dialog.clone(), field.clone(), error.clone());
            let (fresh_until, waiting) = (fresh_until.clone(), waiting.clone());
            move |event| {
                let Some(sensitive) = event
                    .target()
                    .and_then(|t| t.dyn_into::<HtmlFormElement>().ok())
                    .filter(|f| f.has_attribute("data-step-up"))
                else {
                    return;
                };
                if now_ms().saturating_add(MARGIN_MS) < fresh_until.get() {
                    return;
                }
                event.prevent_default();
                *waiting.borrow_mut() = Some(sensitive);
                error.set_hidden(true);
                field.set_value("");
                dialog.set_hidden(false);
                // WCAG 2.4.3: focus moves into the dialog.
                let _ = field.focus();
            }
        });

        // A passkey instead of a code: the same outcome as a right code.
        if let Some(passkey) = by_id::<HtmlElement>("step-up-passkey") {
            if crate::browser::webauthn::supported() {
                passkey.set_hidden(false);
                let (dialog, error) = (dialog.clone(), error.clone());
                let (fresh_until, waiting) = (fresh_until.clone(), waiting.clone());
                listen(&passkey, "click", move |_| {
                    let (dialog, error) = (dialog.clone(), error.clone());
                    let (fresh_until, waiting) = (fresh_until.clone(), waiting.clone());
                    leptos::task::spawn_local(async move {
                        match ceremony(PasskeyPurpose::StepUp, None).await {
                            Ok(_) => {
                                fresh_until.set(i64::MAX);
                                dialog.set_hidden(true);
                                if let Some(form) = waiting.borrow_mut().take() {
                                    let _ = form.request_submit();
                                }
                            }
                            Err(message) => {
                                error.set_text_content(Some(&message));
                                error.set_hidden(false);
                            }
                        }
                    });
                });
            }
        }

        // The dialog's own form: confirm, then send the waiting form as it
        // was. `request_submit` fires the submit event again (unlike
        // `submit()`): the guard above lets it through now that the step-up
        // is fresh, and the page records that it is being left, which the
        // countdown reads before it believes a "not signed in".
        listen(&form, "submit", {
            let (dialog, field, method, error) =
                (dialog.clone(), field.clone(), method.clone(), error.clone());
            move |event| {
                event.prevent_default();
                let secret = Secret::from(field.value());
                let kind = if method.value() == "recovery_code" {
                    SecondFactorMethod::RecoveryCode
                } else {
                    SecondFactorMethod::Totp
                };
                let (dialog, error) = (dialog.clone(), error.clone());
                let (fresh_until, waiting) = (fresh_until.clone(), waiting.clone());
                leptos::task::spawn_local(async move {
                    match step_up(secret, Some(kind), None).await {
                        Ok(()) => {
                            fresh_until.set(i64::MAX);
                            dialog.set_hidden(true);
                            if let Some(form) = waiting.borrow_mut().take() {
                                let _ = form.request_submit();
                            }
                        }
                        Err(e) => {
                            error.set_text_content(Some(&e.to_string()));
                            error.set_hidden(false);
                        }
                    }
                });
            }
        });

        if let Some(cancel) = by_id::<HtmlElement>("step-up-cancel") {
            let dialog = dialog.clone();
            listen(&cancel, "click", move |_| dialog.set_hidden(true));
        }
        // A code from the app, or a recovery code.
        if let (Some(switch), Some(label)) = (
            by_id::<HtmlElement>("step-up-switch"),
            by_id::<HtmlElement>("step-up-label"),
        ) {
            let switch_target = switch.clone();
            listen(&switch, "click", move |_| {
                let to_recovery = method.value() != "recovery_code";
                method.set_value(if to_recovery { "recovery_code" } else { "totp" });
                label.set_text_content(Some(if to_recovery {
                    "Recovery code"
                } else {
                    "Code from your authenticator app"
                }));
                let _ = field.set_attribute(
                    "autocomplete",
                    if to_recovery { "off" } else { "one-time-code" },
                );
                field.set_input_mode(if to_recovery { "text" } else { "numeric" });
                switch_target.set_text_content(Some(if to_recovery {
                    "Use a code from your app instead"
                } else {
                    "Use a recovery code instead"
                }));
                let _ = field.focus();
            });
        }
    }
}
