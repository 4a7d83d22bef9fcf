//! Settings: defaults, layering, validation, and the docs' table.

use super::*;

fn no_env(_: &str) -> Option<String> {
    None
}

#[test]
fn the_shipped_leptos_toml_matches_the_defaults_in_code() {
    let file = include_str!("../../../../Leptos.toml");
    let settings = Settings::from_sources(Some(file), no_env).expect("Leptos.toml parses");
    assert_eq!(settings, Settings::default());
}

/// docs/configuration.md's table names every setting, with its
/// environment variable and its default as the code has them: a setting
/// missing from the table, or a row naming no setting, fails.
#[test]
fn the_settings_table_in_the_docs_matches_the_code() {
    let table = include_str!("../../../../docs/configuration.md");
    let defaults = serde_json::to_value(Settings::default()).expect("settings serialise");
    let mut in_code = std::collections::BTreeSet::new();
    for (section, keys) in defaults.as_object().expect("sections") {
        for key in keys.as_object().expect("keys").keys() {
            in_code.insert(format!("{section}.{key}"));
        }
    }
    let ticked = |cell: &str| -> Vec<String> {
        cell.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    };
    let mut in_table = std::collections::BTreeSet::new();
    for row in table.lines().filter(|l| l.starts_with("| `[")) {
        let cells: Vec<&str> = row.split(" | ").collect();
        assert!(cells.len() >= 4, "{row}");
        let names = ticked(cells[0]);
        let section = names[0]
            .strip_prefix('[')
            .and_then(|n| n.split_once(']'))
            .map(|(section, _)| section.to_owned())
            .unwrap_or_else(|| panic!("a [section] in {row}"));
        let keys: Vec<String> = names
            .iter()
            .map(|n| n.rsplit(' ').next().unwrap_or(n).to_owned())
            .collect();
        let variables = ticked(cells[1]);
        assert_eq!(variables.len(), keys.len(), "{row}");
        for (key, variable) in keys.iter().zip(&variables) {
            let name = format!("{section}.{key}");
            assert!(in_code.contains(&name), "a row for no setting: {name}");
            assert!(in_table.insert(name.clone()), "two rows for {name}");
            assert_eq!(
                variable,
                &format!("TESSERA_{}_{}", section, key).to_uppercase(),
                "{name}"
            );
            // The default: a `value`, or "(empty…)" for an empty one.
            let code = &defaults[&section][key];
            let code = match code {
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            let shown = ticked(cells[2]);
            if cells[2].trim_start().starts_with("(empty") {
                assert_eq!(code, "", "{name}: the table says empty");
            } else if shown.len() == keys.len() {
                let index = keys.iter().position(|k| k == key).unwrap_or(0);
                assert_eq!(shown[index], code, "{name}: the table's default");
            } else {
                panic!("{name}: no default in the table");
            }
        }
    }
    let missing: Vec<_> = in_code.difference(&in_table).collect();
    assert!(
        missing.is_empty(),
        "settings missing from the table: {missing:?}"
    );
}

#[test]
fn environment_overrides_the_file() {
    let file = "[session]\nidle_timeout_secs = 100\nwarn_before_secs = 30\n";
    let env = |name: &str| (name == "TESSERA_SESSION_IDLE_TIMEOUT_SECS").then(|| "90".to_owned());
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
    let env = |name: &str| (name == "TESSERA_SESSION_IDLE_TIMEOUT_SECS").then(|| "soon".to_owned());
    assert!(Settings::from_sources(None, env).is_err());
    assert!(Settings::from_sources(Some("[session]\nsame_site = \"none\"\n"), no_env).is_err());
}

#[test]
fn each_setting_the_server_cannot_honour_is_refused_with_its_name() {
    let cases = [
        (
            "[session]\nidle_timeout_secs = 600\nwarn_before_secs = 600\n",
            "warn_before_secs",
        ),
        (
            "[session]\nidle_timeout_secs = 31536001\nabsolute_timeout_secs = 31536001\n",
            "idle_timeout_secs",
        ),
        (
            "[session]\nabsolute_timeout_secs = 9223372036854775807\n",
            "absolute_timeout_secs",
        ),
        (
            "[session]\ncleanup_interval_secs = 0\n",
            "cleanup_interval_secs",
        ),
        (
            "[session]\ncleanup_interval_secs = 18446744073709551615\n",
            "cleanup_interval_secs",
        ),
        ("[password]\nhash_queue_max = 0\n", "hash_queue_max"),
        (
            "[password]\nhash_queue_timeout_secs = 0\n",
            "hash_queue_timeout_secs",
        ),
        ("[login]\nfailure_window_secs = 0\n", "failure_window_secs"),
        (
            "[login]\nmax_failures_per_account = 0\n",
            "max_failures_per_account",
        ),
        ("[limits]\nmax_body_bytes = 0\n", "max_body_bytes"),
        // Issue 24: the cross-server staleness bound and the pool's wait.
        ("[session]\ncache_staleness_ms = 49\n", "cache_staleness_ms"),
        (
            "[session]\ncache_staleness_ms = 60001\n",
            "cache_staleness_ms",
        ),
        (
            "[database]\nacquire_timeout_ms = 99\n",
            "acquire_timeout_ms",
        ),
        ("[audit]\nretention_days = 0\n", "retention_days"),
        ("[alerts]\nwindow_secs = 0\n", "window_secs"),
        (
            "[alerts]\nwebhook_url = \"ftp://example.com\"\n",
            "webhook_url",
        ),
        ("[webauthn]\nrp_id = \"127.0.0.1\"\n", "IP address"),
        // Issue 14: at most 30 s of clock skew on tokens; a lifetime is
        // short; only the two engines.
        ("[jwt]\nleeway_secs = 31\n", "leeway_secs"),
        ("[jwt]\nttl_secs = 86401\n", "ttl_secs"),
        ("[jwt]\naudience = \" \"\n", "audience"),
        ("[database]\nurl = \"mysql://x/y\"\n", "database.url"),
        // sqlx's URL form: its options are applied, or refused by name.
        (
            "[database]\nurl = \"sqlite://x.db?mode=memory\"\n",
            "in-memory",
        ),
        ("[database]\nurl = \"sqlite://x.db?mode=ro\"\n", "mode=ro"),
        (
            "[database]\nurl = \"sqlite://x.db?mode=rwx\"\n",
            "database.url",
        ),
        ("[database]\nurl = \"sqlite://x.db?journal=1\"\n", "journal"),
        (
            "[database]\nurl = \"sqlite://?mode=rwc\"\n",
            "names no file",
        ),
    ];
    for (file, name) in cases {
        let error = Settings::from_sources(Some(file), no_env)
            .expect_err(file)
            .to_string();
        assert!(error.contains(name), "{file}: {error}");
    }
}

#[test]
fn logs_are_text_or_json() {
    let json = Settings::from_sources(Some("[log]\nformat = \"json\"\n"), no_env).expect("json");
    assert_eq!(json.log.format, LogFormat::Json);
    assert_eq!(Settings::default().log.format, LogFormat::Text);
    assert!(Settings::from_sources(Some("[log]\nformat = \"xml\"\n"), no_env).is_err());
}

#[test]
fn a_warning_below_wcag_s_20_seconds_is_allowed_but_reported() {
    let file =
        "[session]\nidle_timeout_secs = 30\ntouch_interval_secs = 5\nwarn_before_secs = 10\n";
    let settings = Settings::from_sources(Some(file), no_env).expect("allowed");
    let warnings = settings.warnings();
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].contains("warn_before_secs"), "{warnings:?}");
    assert!(Settings::default().warnings().is_empty());
}

/// Review E16: trusting every address is refused, a very broad network is
/// allowed with a warning.
#[test]
fn a_proxy_list_that_trusts_everyone_is_refused_and_a_broad_one_reported() {
    for everyone in ["0.0.0.0/0", "10.0.0.1, ::/0"] {
        let file = format!("[proxy]\ntrusted = \"{everyone}\"\n");
        let refused = Settings::from_sources(Some(&file), no_env).expect_err(everyone);
        assert!(
            refused.to_string().contains("trusts every address"),
            "{refused}"
        );
    }
    let file = "[proxy]\ntrusted = \"10.0.0.0/8, 0.0.0.0/4\"\n";
    let warnings = Settings::from_sources(Some(file), no_env)
        .expect("allowed")
        .warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("0.0.0.0/4"), "{warnings:?}");
}

#[test]
fn an_absolute_timeout_shorter_than_the_idle_timeout_is_refused() {
    let file = "[session]\nidle_timeout_secs = 600\nabsolute_timeout_secs = 60\n";
    assert!(Settings::from_sources(Some(file), no_env).is_err());
}
