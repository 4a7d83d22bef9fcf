//! The rules a new password must meet (ASVS 5.0 6.2): a length between
//! `[password] min_length` and `max_length` (counted in characters), not
//! containing the username, and a zxcvbn strength score of at least
//! `min_strength`; a refusal says why, in words for the person choosing it.

use crate::ssr::auth::settings::PasswordSettings;

/// Why a new password was refused, in words for the person choosing it.
pub fn check_new_password(
    password: &str,
    username: &str,
    settings: &PasswordSettings,
) -> Result<(), String> {
    let length = password.chars().count();
    if length < settings.min_length as usize {
        return Err(format!(
            "Use at least {} characters for your password.",
            settings.min_length
        ));
    }
    if length > settings.max_length as usize {
        return Err(format!(
            "Use at most {} characters for your password.",
            settings.max_length
        ));
    }
    if !username.is_empty() && password.to_lowercase().contains(&username.to_lowercase()) {
        return Err("Your password must not contain your username.".to_owned());
    }
    let estimate = zxcvbn::zxcvbn(password, &[username]);
    if u8::from(estimate.score()) < settings.min_strength {
        let mut message = "This password is too easy to guess.".to_owned();
        if let Some(feedback) = estimate.feedback() {
            if let Some(warning) = feedback.warning() {
                message.push_str(&format!(" {warning}."));
            }
            for suggestion in feedback.suggestions().iter().take(2) {
                message.push_str(&format!(" {suggestion}"));
            }
        } else {
            message.push_str(" Try a longer passphrase of several unrelated words.");
        }
        return Err(message.replace("..", "."));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_short_long_and_username_containing_passwords_are_refused() {
        let s = PasswordSettings::default();
        assert!(check_new_password("short", "alice", &s)
            .unwrap_err()
            .contains("at least 8"));
        assert!(check_new_password(&"x".repeat(129), "alice", &s)
            .unwrap_err()
            .contains("at most 128"));
        assert!(check_new_password("password123", "alice", &s)
            .unwrap_err()
            .contains("too easy"));
        assert!(check_new_password("alice-Quartz-Ladle-97", "alice", &s)
            .unwrap_err()
            .contains("username"));
        assert!(check_new_password("Quartz ladle orbit 97 yawn", "alice", &s).is_ok());
        let longest: String =
            "Quartz ladle orbit 97 yawn mosaic tundra velvet pickle harbor zenith \
             glacier lantern sorbet pylon thimble crater 31 oboe fjord nectar quill"
                .chars()
                .take(128)
                .collect();
        assert_eq!(longest.chars().count(), 128);
        assert!(check_new_password(&longest, "alice", &s).is_ok());
    }
}
