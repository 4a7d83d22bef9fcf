//! The user's editable profile.

use crate::shared::AppError;
use crate::ssr::error::internal;
use crate::ssr::state::AppState;

pub use crate::shared::{ABOUT_MAX, DISPLAY_NAME_MAX};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub display_name: String,
    pub about: String,
}

/// Trims and checks the fields; the messages say what to fix.
pub fn validate(display_name: &str, about: &str) -> Result<Profile, String> {
    let display_name = display_name.trim();
    if display_name.chars().count() > DISPLAY_NAME_MAX {
        return Err(format!(
            "Use at most {DISPLAY_NAME_MAX} characters for your display name."
        ));
    }
    if display_name.chars().any(char::is_control) {
        return Err(
            "Your display name cannot contain line breaks or control characters.".to_owned(),
        );
    }
    let about = about.trim_end();
    if about.chars().count() > ABOUT_MAX {
        return Err(format!(
            "Use at most {ABOUT_MAX} characters for \"About you\"."
        ));
    }
    if about
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err("\"About you\" contains characters that cannot be saved.".to_owned());
    }
    Ok(Profile {
        display_name: display_name.to_owned(),
        about: about.to_owned(),
    })
}

pub async fn save(state: &AppState, user_id: i64, profile: &Profile) -> Result<(), AppError> {
    // Sessions carry the user's row (the session cache): the write clears
    // their copies, so the next page shows the new one.
    crate::ssr::db::users::set_profile(
        &state.db,
        &*state.sessions,
        user_id,
        &profile.display_name,
        &profile.about,
    )
    .await
    .map_err(internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_are_trimmed_and_bounded() {
        let p = validate("  Alice  ", "Hello\nworld  ").expect("valid");
        assert_eq!(p.display_name, "Alice");
        assert_eq!(p.about, "Hello\nworld");
        assert!(validate(&"x".repeat(65), "").is_err());
        assert!(validate("a\nb", "").is_err());
        assert!(validate("", &"y".repeat(2001)).is_err());
        assert!(validate("", "bell\u{7}").is_err());
        assert!(validate("", "").is_ok());
    }
}
