//! The MFA key: required when secrets exist, and rotated without losing any.

use super::*;

/// A second server on `app`'s database with the MFA key in `key_file`.
async fn start_with_key(
    app: &TestApp,
    key_file: std::path::PathBuf,
) -> Result<server::startup::Application, server::startup::StartupError> {
    let mut settings = app::ssr::config::Settings::default();
    app.database.apply(&mut settings);
    settings.mfa.key_file = key_file;
    let options = leptos::prelude::LeptosOptions::builder()
        .output_name("tessera")
        .site_addr(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .build();
    server::startup::Application::build(
        settings,
        options,
        std::sync::Arc::new(app::ssr::clock::SystemClock),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_refuses_to_start_with_mfa_data_and_no_key() {
    let app = spawn_app().await;
    app.enrol("keyholder").await;
    let missing = app.db_path.with_file_name("no-such.key");
    let error = start_with_key(&app, missing).await.err().expect("refused");
    let message = error.to_string();
    assert!(message.contains("two-step verification on"), "{message}");
    assert!(message.contains("no-such.key"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_the_mfa_key_reseals_every_secret() {
    use app::ssr::mfa::sealing::SealingKey;
    let app = spawn_app().await;
    let enrolled = app.enrol("rotator").await;
    let new_key = app.db_path.with_file_name("new.key");
    std::fs::write(&new_key, "7b".repeat(32)).expect("write");
    let mut settings = app::ssr::config::Settings::default();
    app.database.apply(&mut settings);
    settings.mfa.key_file = app.db_path.with_file_name("mfa.key");
    let args = ["rotate-mfa-key".to_owned(), new_key.display().to_string()];
    let message = server::cli::run(&settings, &args).await.expect("rotated");
    assert!(message.starts_with("sealed 1 TOTP secrets"), "{message}");

    let (user_id, sealed): (i64, Vec<u8>) = {
        let mut db = app.db().await;
        sqlx::query_as("SELECT user_id, secret_sealed FROM totp_factors")
            .fetch_one(&mut db)
            .await
            .expect("row")
    };
    let new = SealingKey::from_hex(&"7b".repeat(32)).expect("key");
    let old = SealingKey::from_hex(&"5a".repeat(32)).expect("key");
    assert_eq!(
        new.open(user_id, &sealed).expect("opens").as_slice(),
        enrolled.secret.as_bytes()
    );
    assert!(old.open(user_id, &sealed).is_err());
    // A missing new key changes nothing.
    let args = ["rotate-mfa-key".to_owned(), "/nonexistent.key".to_owned()];
    assert!(server::cli::run(&settings, &args).await.is_err());
}

/// Review E11: a key that does not open the stored secrets (the wrong file,
/// or a rotation that ran while a server was up) stops the start, saying
/// how many and what to do; a second rotation finishes a mixed state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_that_does_not_open_the_secrets_stops_the_start_and_a_second_rotation_finishes() {
    let app = spawn_app().await;
    app.enrol("first").await;
    let old_key = app.db_path.with_file_name("mfa.key");
    let new_key = app.db_path.with_file_name("new.key");
    std::fs::write(&new_key, "7b".repeat(32)).expect("write");
    let mut settings = app::ssr::config::Settings::default();
    app.database.apply(&mut settings);
    settings.mfa.key_file = old_key.clone();
    let build = |key_file: std::path::PathBuf| start_with_key(&app, key_file);
    // The wrong key file: refused before anyone's code fails.
    let message = build(new_key.clone())
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        message.contains("1 stored TOTP secrets do not open"),
        "{message}"
    );

    // A rotation while this server (old key) still runs and enrols someone.
    let args = ["rotate-mfa-key".to_owned(), new_key.display().to_string()];
    server::cli::run(&settings, &args).await.expect("rotated");
    app.enrol("second").await;
    let message = build(new_key.clone())
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        message.contains("1 stored TOTP secrets do not open"),
        "{message}"
    );
    // Running it again from the old key seals the late one; the rest stay.
    let message = server::cli::run(&settings, &args).await.expect("finished");
    assert!(message.starts_with("sealed 1 TOTP secrets"), "{message}");
    assert!(
        build(new_key).await.is_ok(),
        "every secret opens with the new key"
    );
}
