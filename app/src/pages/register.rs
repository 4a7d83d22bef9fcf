use leptos::prelude::*;

use crate::api::Register;
use crate::components::form::FormError;

#[component]
pub fn RegisterPage() -> impl IntoView {
    view! {
        <h1>"Create an account"</h1>
        <RegisterForm>
            <div class="field">
                <label for="register-username">"Username"</label>
                <input id="register-username" name="username" autocomplete="username" required
                    minlength="3" maxlength="32" pattern="[A-Za-z0-9._\\-]+"
                    aria-describedby="register-username-hint"/>
                <small id="register-username-hint">
                    "3 to 32 letters, digits, dots, underscores or hyphens."
                </small>
            </div>
            <div class="field">
                <label for="register-password">"Password"</label>
                <input id="register-password" type="password" name="password" autocomplete="new-password"
                    required minlength="8" aria-describedby="register-password-hint"/>
                <small id="register-password-hint">
                    "At least 8 characters. A few unrelated words make a strong password."
                </small>
            </div>
            <div class="field">
                <label for="register-password-confirm">"Confirm password"</label>
                <input id="register-password-confirm" type="password" name="password_confirm"
                    autocomplete="new-password" required/>
            </div>
            <button type="submit">"Create account"</button>
        </RegisterForm>
        <p>"Already registered? " <a href="/login">"Sign in"</a></p>
    }
}

/// An island: a refused registration explains itself in the page. The
/// fields are its children, rendered on the server only: the island's Wasm
/// is the form and the error, not every label (bundle budget, issue 9).
#[island]
fn RegisterForm(children: Children) -> impl IntoView {
    let register = ServerAction::<Register>::new();
    let error = Signal::derive(move || register.value().get().and_then(Result::err));
    view! {
        <ActionForm action=register attr:id="register-form" attr:class="stacked">
            {children()}
        </ActionForm>
        <FormError error/>
    }
}
