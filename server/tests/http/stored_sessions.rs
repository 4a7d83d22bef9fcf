//! What is stored, and the store's own guarantees, tested on the store the
//! app runs with.

use app::ssr::session::id::storage_key;
use app::ssr::session::store::is_session_gone;
use app::ssr::session::SessionBackend;
use tower_sessions::session::{Id, Record};
use tower_sessions::SessionStore;

use crate::helpers::*;

fn raw_bytes(sid: &str) -> [u8; 16] {
    let id: Id = sid.parse().expect("a valid ID");
    id.0.to_le_bytes()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_raw_session_id_is_nowhere_in_the_database() {
    let app = spawn_app().await;
    app.register("alice").await;
    let mut sids = Vec::new();
    for _ in 0..5 {
        sids.push(app.login("alice", None).await);
    }
    let mut db = app.db().await;
    let files = app.stored_bytes().await;
    for sid in &sids {
        let id: Id = sid.parse().expect("ID");
        let hash = storage_key(&id);
        for bytes in &files {
            assert!(
                !contains(bytes, sid.as_bytes()),
                "the cookie value is stored"
            );
            assert!(
                !contains(bytes, &raw_bytes(sid)),
                "the raw ID bytes are stored"
            );
        }
        let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE id_hash = $1")
            .bind(&hash[..])
            .fetch_one(&mut db)
            .await
            .expect("query");
        assert_eq!(stored, 1, "the row is keyed by SHA-256 of the ID");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_row_records_user_deadlines_and_client_but_no_secrets() {
    let app = spawn_app().await;
    app.registered_and_logged_in("alice").await;
    let mut db = app.db().await;
    let (user_id, ip, data): (Option<i64>, Option<String>, String) =
        sqlx::query_as("SELECT user_id, ip_first, data FROM sessions")
            .fetch_one(&mut db)
            .await
            .expect("row");
    assert!(user_id.is_some());
    assert_eq!(ip.as_deref(), Some("127.0.0.1"));
    assert!(data.contains("\"auth\""));
    assert!(!data.contains(PASSWORD));
    assert!(!data.contains("_client") && !data.contains("_meta"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_save_does_not_resurrect_a_deleted_session() {
    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("alice").await;
    let store = &app.state.sessions;
    let id: Id = sid.parse().expect("ID");

    // A request loads the session...
    let loaded: Record = store.load(&id).await.expect("load").expect("live");
    // ...another one logs out...
    store.delete(&id).await.expect("delete");
    // ...and the first one saves late: refused, so no cookie is sent.
    let late = store
        .save(&loaded)
        .await
        .expect_err("a save of a deleted row");
    assert!(is_session_gone(&tower_sessions::session::Error::Store(
        late
    )));

    assert_eq!(store.load(&id).await.expect("load"), None);
    assert_eq!(app.session_rows().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_expired_ids_load_as_nothing() {
    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("alice").await;
    let store = &app.state.sessions;
    assert_eq!(store.load(&Id(42)).await.expect("load"), None);
    let id: Id = sid.parse().expect("ID");
    assert!(store.load(&id).await.expect("load").is_some());
    app.clock.advance(1800);
    assert_eq!(store.load(&id).await.expect("load"), None);
    assert_eq!(store.delete_expired(100).await.expect("cleanup").len(), 1);
}

/// The user's row travels with the loaded session (`_owner`, one query per
/// request) but is never written back: a touch must not copy the username
/// or the profile into the session's data column.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loaded_user_row_is_never_saved_into_the_session() {
    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("alice").await;
    let about = "Likes quartz and ladles";
    let saved = app
        .post_form(
            "/api/profile",
            &[("display_name", "Alice Example"), ("about", about)],
            Some(&sid),
        )
        .await;
    assert!(saved.status().is_success(), "{}", saved.status());
    let before = app.last_seen().await;
    app.clock.advance(120);
    assert!(app.is_signed_in(&sid).await);
    assert!(
        app.last_seen().await > before,
        "the page was a touch (a save)"
    );

    let mut db = app.db().await;
    let data: String = sqlx::query_scalar("SELECT data FROM sessions")
        .fetch_one(&mut db)
        .await
        .expect("row");
    for personal in ["_owner", "alice\"", "Alice Example", about] {
        assert!(!data.contains(personal), "{personal:?} saved in {data}");
    }
}
