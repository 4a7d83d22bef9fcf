//! "Confirm it is you" without JavaScript: a sensitive form posted without a
//! recent step-up lands here, and returns to that form afterwards.

use leptos::prelude::*;

use crate::components::form::PostedError;
use crate::request::{query_param, step_up_view};

#[component]
pub fn StepUpPage() -> impl IntoView {
    let mfa_enabled = step_up_view().is_some_and(|v| v.mfa_enabled);
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
    view! {
        <h1>"Confirm it is you"</h1>
        <p>"This action needs a recent confirmation. After that you can continue where you were."</p>
        <form method="post" action="/api/step_up" class="stacked" id="step-up-form">
            <input type="hidden" name="next" value=next/>
            {field}
            <button type="submit">"Confirm"</button>
        </form>
        <PostedError endpoint="step_up"/>
        {switch}
    }
}
