//! `[database] url` in sqlx's own form: the SQLite file it names is the one
//! opened, with its query options applied, or the server refuses to start
//! with a message naming the setting.

use crate::helpers::spawn_app_with;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_url_with_query_options_opens_the_file_it_names() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("named.db");
    let url = format!("sqlite://{}?mode=rwc&cache=private", file.display());
    let app = spawn_app_with(|s| s.database.url = url.clone()).await;
    app.registered_and_logged_in("alice").await;
    assert!(file.exists(), "the file the URL names");
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| !n.contains('?') && !n.contains("mode")),
        "no file named after the query: {names:?}"
    );
    // sqlite:FILE (no slashes) is sqlx's form too.
    let other = dir.path().join("short.db");
    let url = format!("sqlite:{}", other.display());
    let _app = spawn_app_with(|s| s.database.url = url.clone()).await;
    assert!(other.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_url_the_server_cannot_run_on_is_refused_with_the_setting_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("x.db");
    let file = file.display();
    for (url, says) in [
        (format!("sqlite://{file}?mode=memory"), "in-memory"),
        (format!("sqlite://{file}?mode=ro"), "mode=ro"),
        (format!("sqlite://{file}?immutable=true"), "immutable"),
        (format!("sqlite://{file}?mode=nope"), "nope"),
        (format!("sqlite://{file}?journal=wal"), "journal"),
        // mode=rw keeps sqlx's meaning: the file must exist.
        (format!("sqlite://{file}?mode=rw"), "database"),
    ] {
        let mut settings = app::ssr::config::Settings::default();
        settings.database.url = url.clone();
        let error = match settings.validate() {
            Err(e) => e.to_string(),
            Ok(_) => match app::ssr::db::connect_and_migrate(&settings.database).await {
                Err(e) => e.to_string(),
                Ok(_) => panic!("{url}: accepted"),
            },
        };
        assert!(error.contains(says), "{url}: {error}");
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("dir").count(),
        0,
        "nothing was created"
    );
}
