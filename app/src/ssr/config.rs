//! Typed runtime settings: defaults in code and in `Leptos.toml`, then
//! `TESSERA_<SECTION>_<KEY>` environment variables on top.
//!
//! Precedence, lowest first: `Settings::default()`, the file, the environment.
//! An unknown key or a value of the wrong type is an error at start-up, never
//! a silently ignored setting.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub session: SessionSettings,
    pub password: PasswordSettings,
    pub login: LoginSettings,
    pub limits: LimitSettings,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// SQLite database file; its directory is created at start.
    pub path: PathBuf,
    pub max_connections: u32,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            path: PathBuf::from("data/tessera.db"),
            max_connections: 8,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SameSitePolicy {
    Strict,
    Lax,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SessionSettings {
    /// Seconds of inactivity after which a session ends (ASVS 7.3.1).
    pub idle_timeout_secs: u64,
    /// Seconds after sign-in after which a session ends whatever the activity (ASVS 7.3.2).
    pub absolute_timeout_secs: u64,
    /// Minimum seconds between two writes of an unchanged session.
    pub touch_interval_secs: u64,
    pub same_site: SameSitePolicy,
    /// 0 = unlimited concurrent sessions per user.
    pub max_per_user: u32,
    pub cleanup_interval_secs: u64,
    pub cleanup_batch_size: u32,
    /// Seconds before the idle deadline at which the browser warns.
    pub warn_before_secs: u64,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            idle_timeout_secs: 30 * 60,
            absolute_timeout_secs: 8 * 60 * 60,
            touch_interval_secs: 60,
            same_site: SameSitePolicy::Strict,
            max_per_user: 0,
            cleanup_interval_secs: 300,
            cleanup_batch_size: 500,
            warn_before_secs: 120,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordSettings {
    /// Concurrent argon2 computations (each needs 19 MiB of memory).
    pub hash_concurrency: u32,
    /// CPU priority of the hashing threads: a nice value, 0 (normal) to 19
    /// (lowest). Higher keeps page requests fast during a sign-in storm at
    /// the cost of slower sign-ins while pages are busy.
    pub hash_thread_nice: i32,
    pub min_length: u32,
    pub max_length: u32,
    /// zxcvbn score from 0 to 4 that a new password must reach.
    pub min_strength: u8,
}

impl Default for PasswordSettings {
    fn default() -> Self {
        Self {
            hash_concurrency: 2,
            hash_thread_nice: 10,
            min_length: 8,
            max_length: 128,
            min_strength: 3,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LoginSettings {
    pub max_failures_per_account: u32,
    pub max_failures_per_address: u32,
    pub failure_window_secs: u64,
}

impl Default for LoginSettings {
    fn default() -> Self {
        Self {
            max_failures_per_account: 10,
            max_failures_per_address: 50,
            failure_window_secs: 900,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    pub max_body_bytes: usize,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 16 * 1024,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid settings: {0}")]
    Invalid(String),
}

/// Sections of `Leptos.toml` that belong to Leptos, not to Tessera.
const FOREIGN_SECTIONS: &[&str] = &["package"];

impl Settings {
    /// Defaults, then `path` (if it exists), then the process environment.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let file = match std::fs::read_to_string(path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        Self::from_sources(file.as_deref(), |name| std::env::var(name).ok())
    }

    /// The layering itself, with the environment injected so tests need not
    /// touch the process environment.
    pub fn from_sources(
        file: Option<&str>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let invalid = |e: &dyn std::fmt::Display| ConfigError::Invalid(e.to_string());
        let mut merged = toml::Table::try_from(Settings::default()).map_err(|e| invalid(&e))?;

        if let Some(text) = file {
            let mut table: toml::Table = text.parse().map_err(|e| invalid(&e))?;
            for name in FOREIGN_SECTIONS {
                table.remove(*name);
            }
            for (section, values) in table {
                let Some(target) = merged.get_mut(&section).and_then(|v| v.as_table_mut()) else {
                    return Err(ConfigError::Invalid(format!("unknown section [{section}]")));
                };
                let toml::Value::Table(values) = values else {
                    return Err(ConfigError::Invalid(format!("[{section}] is not a table")));
                };
                target.extend(values);
            }
        }

        for (section, values) in merged.iter_mut() {
            let Some(values) = values.as_table_mut() else {
                continue;
            };
            for (key, value) in values.iter_mut() {
                let name = format!("TESSERA_{section}_{key}").to_uppercase();
                if let Some(raw) = env(&name) {
                    *value = parse_env_value(&raw, value)
                        .map_err(|e| ConfigError::Invalid(format!("{name}: {e}")))?;
                }
            }
        }

        let settings: Settings = toml::Value::Table(merged)
            .try_into()
            .map_err(|e| invalid(&e))?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let s = &self.session;
        let problems = [
            (
                s.idle_timeout_secs == 0,
                "session.idle_timeout_secs must be > 0",
            ),
            (
                s.absolute_timeout_secs < s.idle_timeout_secs,
                "session.absolute_timeout_secs must be >= idle_timeout_secs",
            ),
            (
                s.touch_interval_secs >= s.idle_timeout_secs,
                "session.touch_interval_secs must be < idle_timeout_secs",
            ),
            (
                s.cleanup_batch_size == 0,
                "session.cleanup_batch_size must be > 0",
            ),
            (
                self.password.hash_concurrency == 0,
                "password.hash_concurrency must be > 0",
            ),
            (
                !(0..=19).contains(&self.password.hash_thread_nice),
                "password.hash_thread_nice is 0 to 19",
            ),
            (
                self.password.min_length < 8 || self.password.max_length < 64,
                "password lengths: min_length >= 8 and max_length >= 64 (ASVS 6.2.1, 6.2.9)",
            ),
            (
                self.password.min_strength > 4,
                "password.min_strength is 0 to 4",
            ),
            (
                self.database.max_connections == 0,
                "database.max_connections must be > 0",
            ),
        ];
        match problems.iter().find(|(bad, _)| *bad) {
            Some((_, message)) => Err(ConfigError::Invalid((*message).to_owned())),
            None => Ok(()),
        }
    }
}

/// An environment value takes the type of the setting it overrides.
fn parse_env_value(raw: &str, current: &toml::Value) -> Result<toml::Value, String> {
    let raw = raw.trim();
    Ok(match current {
        toml::Value::Integer(_) => toml::Value::Integer(
            raw.parse()
                .map_err(|_| format!("expected a whole number, got {raw:?}"))?,
        ),
        toml::Value::Boolean(_) => toml::Value::Boolean(
            raw.parse()
                .map_err(|_| format!("expected true or false, got {raw:?}"))?,
        ),
        _ => toml::Value::String(raw.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn the_shipped_leptos_toml_matches_the_defaults_in_code() {
        let file = include_str!("../../../Leptos.toml");
        let settings = Settings::from_sources(Some(file), no_env).expect("Leptos.toml parses");
        assert_eq!(settings, Settings::default());
    }

    #[test]
    fn environment_overrides_the_file() {
        let file = "[session]\nidle_timeout_secs = 100\n";
        let env =
            |name: &str| (name == "TESSERA_SESSION_IDLE_TIMEOUT_SECS").then(|| "90".to_owned());
        let settings = Settings::from_sources(Some(file), env).expect("valid");
        assert_eq!(settings.session.idle_timeout_secs, 90);
    }

    #[test]
    fn file_overrides_the_defaults_and_same_site_can_be_lax() {
        let file = "[session]\nsame_site = \"lax\"\nmax_per_user = 3\n";
        let settings = Settings::from_sources(Some(file), no_env).expect("valid");
        assert_eq!(settings.session.same_site, SameSitePolicy::Lax);
        assert_eq!(settings.session.max_per_user, 3);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        assert!(Settings::from_sources(Some("[session]\nidle = 1\n"), no_env).is_err());
        assert!(Settings::from_sources(Some("[sesion]\n"), no_env).is_err());
        let env =
            |name: &str| (name == "TESSERA_SESSION_IDLE_TIMEOUT_SECS").then(|| "soon".to_owned());
        assert!(Settings::from_sources(None, env).is_err());
        assert!(Settings::from_sources(Some("[session]\nsame_site = \"none\"\n"), no_env).is_err());
    }

    #[test]
    fn an_absolute_timeout_shorter_than_the_idle_timeout_is_refused() {
        let file = "[session]\nidle_timeout_secs = 600\nabsolute_timeout_secs = 60\n";
        assert!(Settings::from_sources(Some(file), no_env).is_err());
    }
}
