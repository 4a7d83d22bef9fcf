//! Operator commands, run as `server <command>` with the same settings as
//! the server (Leptos.toml, TESSERA_* variables):
//!
//! - `server admin grant NAME` / `server admin revoke NAME`: admin rights
//!   are given here only, never from the web.
//! - `server rotate-mfa-key NEW_KEY_FILE`: seals every TOTP secret again
//!   with the key in NEW_KEY_FILE (one transaction); then point
//!   `[mfa] key_file` at it and restart.
//! - `server jwt rotate`: a new access-token signing key in `[jwt]
//!   key_dir` (the first one too); the previous key stays published until
//!   its last token has expired, older ones are deleted. Servers pick the
//!   new key up within `[jwt] reload_secs`.

use app::ssr::admin;
use app::ssr::config::Settings;
use app::ssr::db::connect_and_migrate;
use app::ssr::mfa::factors;
use app::ssr::mfa::sealing::SealingKey;

pub const USAGE: &str = "usage: server admin grant|revoke USERNAME | server rotate-mfa-key \
                         NEW_KEY_FILE | server jwt rotate";

/// Whether `command` is one of ours (else the server starts).
pub fn is_command(command: &str) -> bool {
    matches!(command, "admin" | "rotate-mfa-key" | "jwt")
}

pub async fn run(settings: &Settings, args: &[String]) -> Result<String, String> {
    if let [cmd, action] = args {
        if cmd == "jwt" && action == "rotate" {
            return rotate_jwt_key(settings);
        }
    }
    let db = connect_and_migrate(&settings.database)
        .await
        .map_err(|e| e.to_string())?;
    match args {
        [cmd, action, name] if cmd == "admin" && (action == "grant" || action == "revoke") => {
            let grant = action == "grant";
            // Another process: no session cache of its own to clear.
            if admin::set_admin(&db, &app::ssr::db::users::NoCache, name, grant)
                .await
                .map_err(|e| e.to_string())?
            {
                Ok(format!(
                    "{name} is {} an admin; their sessions have ended (they sign in again)",
                    if grant { "now" } else { "no longer" }
                ))
            } else {
                Err(format!("there is no user {name:?}"))
            }
        }
        [cmd, new_file] if cmd == "rotate-mfa-key" => {
            let current = &settings.mfa.key_file;
            let old = SealingKey::load(current)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| {
                    format!(
                        "the current MFA key file {} does not exist",
                        current.display()
                    )
                })?;
            let new = SealingKey::load(std::path::Path::new(new_file))
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("the new MFA key file {new_file} does not exist"))?;
            let count = factors::reseal_all(&db, &old, &new).await?;
            Ok(format!(
                "sealed {count} TOTP secrets with {new_file}; now set [mfa] key_file (or \
                 TESSERA_MFA_KEY_FILE) to it and restart, then destroy the old key"
            ))
        }
        _ => Err(USAGE.to_owned()),
    }
}

fn rotate_jwt_key(settings: &Settings) -> Result<String, String> {
    use app::ssr::clock::Clock;
    use app::ssr::clock::SystemClock;
    let dir = &settings.jwt.key_dir;
    let rotation = app::ssr::tokens::keys::rotate(dir, SystemClock.now(), &settings.jwt)
        .map_err(|e| e.to_string())?;
    let mut message = format!(
        "new access-token signing key {} in {}",
        rotation.new_kid,
        dir.display()
    );
    if !rotation.removed.is_empty() {
        message.push_str(&format!(
            "; deleted retired keys {}",
            rotation.removed.join(", ")
        ));
    }
    message.push_str(&format!(
        "; running servers use it within [jwt] reload_secs ({} s)",
        settings.jwt.reload_secs
    ));
    Ok(message)
}
