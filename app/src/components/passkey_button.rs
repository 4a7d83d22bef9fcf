//! The passkey button: runs one WebAuthn ceremony (issue 11). The button
//! and its error line are server-rendered children; this island wires
//! them with a few DOM calls. Hidden until wired (a passkey needs
//! JavaScript), so a page without it shows only the other ways.

use leptos::prelude::*;

use crate::api::PasskeyPurpose;

/// `button_id`: the server-rendered `<button>` (hidden); `error_id`: where
/// a failure is shown; `name_input_id`: for `Register`, the field with the
/// new passkey's name. After success the browser goes where the server
/// says (or, for a step-up, back to `next`).
#[island]
pub fn PasskeyButton(
    purpose: PasskeyPurpose,
    button_id: String,
    error_id: String,
    #[prop(optional)] name_input_id: Option<String>,
    #[prop(optional)] next: Option<String>,
    children: Children,
) -> impl IntoView {
    Effect::new(move |_| {
        wire::install(
            purpose,
            &button_id,
            &error_id,
            name_input_id.clone(),
            next.clone(),
        )
    });
    children()
}

mod wire {
    use web_sys::{HtmlElement, HtmlInputElement};

    use crate::api::{passkey_begin, passkey_finish, AppError, PasskeyPurpose};
    use crate::browser::{by_id, go_to, listen, webauthn};

    pub fn install(
        purpose: PasskeyPurpose,
        button_id: &str,
        error_id: &str,
        name_input_id: Option<String>,
        next: Option<String>,
    ) {
        let (Some(button), Some(error)) = (
            by_id::<HtmlElement>(button_id),
            by_id::<HtmlElement>(error_id),
        ) else {
            return;
        };
        if !webauthn::supported() {
            return;
        }
        button.set_hidden(false);
        let target = button.clone();
        listen(&button, "click", move |event| {
            event.prevent_default();
            let name = name_input_id
                .as_deref()
                .and_then(by_id::<HtmlInputElement>)
                .map(|input| input.value());
            let (button, error, next) = (target.clone(), error.clone(), next.clone());
            button.set_attribute("aria-busy", "true").ok();
            leptos::task::spawn_local(async move {
                let outcome = ceremony(purpose, name).await;
                button.remove_attribute("aria-busy").ok();
                match outcome {
                    Ok(to) => {
                        let to = if to.is_empty() {
                            next.unwrap_or_else(|| "/account/security".to_owned())
                        } else {
                            to
                        };
                        go_to(&to);
                    }
                    // Adding a passkey needs a recent step-up: the step-up
                    // page returns here.
                    Err(message) if message == AppError::StepUpRequired.to_string() => {
                        go_to(&format!(
                            "/step-up?next={}",
                            crate::urls::percent_encode(&crate::browser::current_path())
                        ));
                    }
                    Err(message) => {
                        error.set_text_content(Some(&message));
                        error.set_hidden(false);
                    }
                }
            });
        });
    }

    /// Begin, the browser's prompt, finish; the page to go to.
    pub async fn ceremony(purpose: PasskeyPurpose, name: Option<String>) -> Result<String, String> {
        let options = passkey_begin(purpose).await.map_err(|e| e.to_string())?;
        let credential = webauthn::run(&options, purpose == PasskeyPurpose::Register).await?;
        passkey_finish(purpose, credential, name)
            .await
            .map_err(|e| e.to_string())
    }
}

pub use wire::ceremony;
