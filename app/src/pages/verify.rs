//! The second step of a sign-in: a code from the authenticator app, or a
//! recovery code. A plain form (works without JavaScript).

use leptos::prelude::*;

use crate::api::PasskeyPurpose;
use crate::components::form::PostedError;
use crate::components::passkey_button::PasskeyButton;
use crate::request::{query_param, verify_view};

#[component]
pub fn VerifyPage() -> impl IntoView {
    let view = verify_view().unwrap_or_default();
    let pending = view.pending;
    let recovery = query_param("method").as_deref() == Some("recovery_code");
    if !pending {
        return view! {
            <h1>"Two-step verification"</h1>
            <p class="notice" role="status">
                "Your sign-in has expired. Please " <a href="/login">"sign in again"</a> "."
            </p>
            <PostedError endpoint="verify_code"/>
        }
        .into_any();
    }
    let field = if recovery {
        view! {
            <input type="hidden" name="method" value="recovery_code"/>
            <label>
                "Recovery code"
                <input name="code" id="code" autocomplete="off" autocapitalize="none"
                    spellcheck="false" required maxlength="64" autofocus/>
            </label>
        }
        .into_any()
    } else {
        view! {
            <input type="hidden" name="method" value="totp"/>
            <label>
                "Code from your authenticator app"
                // one-time-code: browsers and phones offer the code they
                // received; numeric keyboard; paste allowed; spaces ignored
                // by the server.
                <input name="code" id="code" autocomplete="one-time-code" inputmode="numeric"
                    required maxlength="16" autofocus/>
            </label>
        }
        .into_any()
    };
    let switch = if recovery {
        view! { <a href="/login/verify" id="switch-method">"Use a code from your app instead"</a> }
    } else {
        view! { <a href="/login/verify?method=recovery_code" id="switch-method">"Use a recovery code instead"</a> }
    };
    view! {
        <h1>"Two-step verification"</h1>
        <p>"Your password was right. Now prove it is you with your second factor."</p>
        {view.has_passkey.then(|| view! {
            <PasskeyButton purpose=PasskeyPurpose::SecondFactor button_id="verify-passkey".to_owned()
                error_id="verify-passkey-error".to_owned()>
                <p><button type="button" id="verify-passkey" hidden>"Use your passkey"</button></p>
            </PasskeyButton>
            <p class="form-error" role="alert" id="verify-passkey-error" hidden></p>
            <p class="or">"Or enter a code:"</p>
        })}
        <form method="post" action="/api/verify_code" class="stacked" id="verify-form">
            {field}
            <button type="submit">"Verify"</button>
        </form>
        <PostedError endpoint="verify_code"/>
        <p>{switch}</p>
    }
    .into_any()
}
