use leptos::prelude::*;

use crate::api::Register;
use crate::components::form::FormError;

#[component]
pub fn RegisterPage() -> impl IntoView {
    let register = ServerAction::<Register>::new();
    let error = Signal::derive(move || register.value().get().and_then(Result::err));
    view! {
        <h1>"Create an account"</h1>
        <ActionForm action=register attr:id="register-form" attr:class="stacked">
            <label>
                "Username"
                <input name="username" autocomplete="username" required
                    minlength="3" maxlength="32" pattern="[A-Za-z0-9._\\-]+"/>
                <small>"3 to 32 letters, digits, dots, underscores or hyphens."</small>
            </label>
            <label>
                "Password"
                <input type="password" name="password" autocomplete="new-password" required minlength="8"/>
                <small>"At least 8 characters. A few unrelated words make a strong password."</small>
            </label>
            <label>
                "Confirm password"
                <input type="password" name="password_confirm" autocomplete="new-password" required/>
            </label>
            <button type="submit">"Create account"</button>
        </ActionForm>
        <FormError error/>
        <p>"Already registered? " <a href="/login">"Sign in"</a></p>
    }
}
