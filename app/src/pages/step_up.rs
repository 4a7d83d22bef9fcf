//! "Confirm it is you" without JavaScript: a sensitive form posted without a
//! recent step-up lands here, and returns to that form afterwards.

use leptos::prelude::*;

use crate::api::PasskeyPurpose;
use crate::components::form::PostedError;
use crate::components::passkey_button::PasskeyButton;
use crate::request::{query_param, step_up_view};

#[component]
pub fn StepUpPage() -> impl IntoView {
    let view = step_up_view().unwrap_or_default();
    let mfa_enabled = view.mfa_enabled;
    let next = query_param("next").unwrap_or_else(|| "/account/security".to_owned());
    let recovery = query_param("method").as_deref() == Some("recovery_code");
    let field = match (mfa_enabled, recovery) {
        (true, false) => view! {
            <input type="hidden" name="method" value="totp"/>
            <label>
                "Code from your authenticator app"
                <input name="secret" id="step-up-secret" autocomplete="one-time-code"
                    inputmode="numeric" required maxlength="16" autofocus/>
            </label>
        }
        .into_any(),
        (true, true) => view! {
            <input type="hidden" name="method" value="recovery_code"/>
            <label>
                "Recovery code"
                <input name="secret" id="step-up-secret" autocomplete="off" required
                    maxlength="64" autofocus/>
            </label>
        }
        .into_any(),
        (false, _) => view! {
            <label>
                "Your password"
                <input type="password" name="secret" id="step-up-secret"
                    autocomplete="current-password" required autofocus/>
            </label>
        }
        .into_any(),
    };
    let switch = mfa_enabled.then(|| {
        let encoded = crate::urls::percent_encode(&next);
        if recovery {
            view! { <p><a href=format!("/step-up?next={encoded}")>"Use a code from your app instead"</a></p> }
        } else {
            view! { <p><a href=format!("/step-up?next={encoded}&method=recovery_code")>"Use a recovery code instead"</a></p> }
        }
    });
    // Where the passkey button returns: checked like the form's `next`.
    let passkey_next = crate::urls::safe_next(Some(&next));
    let passkey = view.has_passkey.then(|| view! {
        <PasskeyButton purpose=PasskeyPurpose::StepUp button_id="step-up-page-passkey".to_owned()
            error_id="step-up-page-passkey-error".to_owned() next=passkey_next>
            <p><button type="button" id="step-up-page-passkey" hidden>"Confirm with your passkey"</button></p>
        </PasskeyButton>
        <p class="form-error" role="alert" id="step-up-page-passkey-error" hidden></p>
        <p class="or">"Or:"</p>
    });
    view! {
        <h1>"Confirm it is you"</h1>
        <p>"This action needs a recent confirmation. After that you can continue where you were."</p>
        {passkey}
        <form method="post" action="/api/step_up" class="stacked" id="step-up-form">
            <input type="hidden" name="next" value=next/>
            {field}
            <button type="submit">"Confirm"</button>
        </form>
        <PostedError endpoint="step_up"/>
        {switch}
    }
}
