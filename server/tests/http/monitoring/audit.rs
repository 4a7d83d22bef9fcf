//! The audit log: every authentication event, its client, no secret; retention.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_events_are_audited_with_client_and_no_session_secret() {
    let app = spawn_app().await;
    app.register("alice").await;
    let res = app
        .post_form(
            "/api/login",
            &[("username", "alice"), ("password", "not the password")],
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let sid = app.login("alice", None).await;
    let res = app
        .post_form("/api/step_up", &[("secret", PASSWORD)], Some(&sid))
        .await;
    let sid = new_sid(&res);
    let res = app.post_form("/api/logout", &[], Some(&sid)).await;
    assert!(res.status().is_success() || res.status().is_redirection());

    let mut db = app.db().await;
    let rows = sqlx::query(
        "SELECT event, outcome, user_id, username, session_hash, ip, user_agent, details \
         FROM audit_events ORDER BY id",
    )
    .fetch_all(&mut db)
    .await
    .expect("events");
    let seen: Vec<(String, String)> = rows
        .iter()
        .map(|r| (r.get::<String, _>("event"), r.get::<String, _>("outcome")))
        .collect();
    let expected = [
        ("registered", "success"),
        ("sign_in", "failure"),
        ("sign_in", "success"),
        ("step_up", "success"),
        ("sign_out", "success"),
    ];
    for (event, outcome) in expected {
        assert!(
            seen.contains(&(event.to_owned(), outcome.to_owned())),
            "{event}/{outcome} missing from {seen:?}"
        );
    }
    let storage_key = {
        use tower_sessions::session::Id;
        let id: Id = sid.parse().expect("a session ID");
        app::ssr::session::id::storage_key(&id)
    };
    for row in &rows {
        assert_eq!(
            row.get::<Option<String>, _>("ip").as_deref(),
            Some("127.0.0.1")
        );
        assert!(row
            .get::<Option<String>, _>("user_agent")
            .is_some_and(|ua| ua.contains("Chrome/131")));
        let hash: Option<Vec<u8>> = row.get("session_hash");
        assert_ne!(
            hash.as_deref(),
            Some(&storage_key[..]),
            "never the storage key"
        );
        let details: String = row.get("details");
        assert!(!details.contains(&sid), "never the session ID");
        assert!(!details.contains(PASSWORD));
    }
    // The failed sign-in names who was targeted; the sign-out has the
    // session's keyed hash.
    let failed = &rows[1];
    assert_eq!(
        failed.get::<Option<String>, _>("username").as_deref(),
        Some("alice")
    );
    let sign_out = rows.last().expect("rows");
    assert_eq!(
        sign_out
            .get::<Option<Vec<u8>>, _>("session_hash")
            .map(|h| h.len()),
        Some(32)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_audit_events_are_deleted_by_the_clean_up() {
    let app = spawn_app_with(|s| {
        s.session.cleanup_interval_secs = 1;
        s.audit.retention_days = 90;
    })
    .await;
    app.register("alice").await;
    let mut db = app.db().await;
    assert_eq!(count(&mut db).await, 1);
    app.clock.advance(89 * 86_400);
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    assert_eq!(count(&mut db).await, 1, "kept within the retention");
    app.clock.advance(2 * 86_400);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while count(&mut db).await > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(count(&mut db).await, 0, "deleted after 90 days");
}

async fn count(db: &mut sqlx::AnyConnection) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_events")
        .fetch_one(db)
        .await
        .expect("count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_sessions_are_audited_by_the_clean_up() {
    let app = spawn_app_with(|s| s.session.cleanup_interval_secs = 1).await;
    let sid = app.registered_and_logged_in("alice").await;
    let idle = app.state.settings.session.idle_timeout_secs;
    app.clock.advance(i64::try_from(idle).expect("secs") + 1);
    let mut db = app.db().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut rows = Vec::new();
    while rows.is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        rows = sqlx::query(
            "SELECT user_id, ip, user_agent, details, session_hash FROM audit_events \
             WHERE event = 'session_expired'",
        )
        .fetch_all(&mut db)
        .await
        .expect("events");
    }
    assert_eq!(rows.len(), 1, "the signed-in session only");
    assert!(rows[0].get::<Option<i64>, _>("user_id").is_some());
    assert!(rows[0]
        .get::<String, _>("details")
        .contains("\"reason\":\"idle\""));
    assert_eq!(rows[0].get::<String, _>("ip"), "127.0.0.1");
    assert!(rows[0].get::<Option<String>, _>("user_agent").is_some());
    let hash: Vec<u8> = rows[0].get("session_hash");
    assert_eq!(hash.len(), 32);
    assert!(
        !String::from_utf8_lossy(&hash).contains(&sid),
        "never the ID itself"
    );
    assert!(!app.is_signed_in(&sid).await);
}

/// Review E5: events written right after a rotation have no session hash
/// (the new ID does not exist until the response), so every event of a
/// signed-in session carries its sign-in's keyed hash: a sign-in links to
/// its session's later events, and a new sign-in gets another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_and_its_later_events_share_one_sign_in_hash() {
    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("alice").await;
    let _ = app.step_up_with_password(&sid).await;
    let other = app.login("alice", None).await;
    let _ = app.step_up_with_password(&other).await;
    let mut db = app.db().await;
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT event, details FROM audit_events \
         WHERE event IN ('sign_in', 'step_up') AND outcome = 'success' ORDER BY id",
    )
    .fetch_all(&mut db)
    .await
    .expect("events");
    let hashes: Vec<(String, String)> = rows
        .into_iter()
        .map(|(event, details)| {
            let details: serde_json::Value = serde_json::from_str(&details).expect("JSON");
            (
                event,
                details["sign_in"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(hashes.len(), 4, "{hashes:?}");
    assert!(hashes.iter().all(|(_, h)| h.len() == 32), "{hashes:?}");
    assert_eq!(hashes[0].1, hashes[1].1, "a sign-in and its step-up");
    assert_eq!(
        hashes[2].1, hashes[3].1,
        "the second sign-in and its step-up"
    );
    assert_ne!(hashes[0].1, hashes[2].1, "two sign-ins, two hashes");
    let events = app.audit_events().await;
    assert!(!events.is_empty());
    // Never the sign-in id itself (an access token's `sid`).
    let ids: Vec<String> = sqlx::query_scalar("SELECT data FROM sessions")
        .fetch_all(&mut db)
        .await
        .expect("sessions");
    let all_details: Vec<String> = sqlx::query_scalar("SELECT details FROM audit_events")
        .fetch_all(&mut db)
        .await
        .expect("details");
    for data in ids {
        let data: serde_json::Value = serde_json::from_str(&data).expect("JSON");
        if let Some(sign_in_id) = data["auth"]["sign_in_id"].as_str() {
            assert!(all_details.iter().all(|d| !d.contains(sign_in_id)));
        }
    }
}
