//! Parallel requests (issue 8): no dead cookie re-sent, one touch per
//! interval, no stale snapshot saved, a throttle that a burst cannot pass,
//! a bounded hashing queue. Every interleaving here is forced (a held
//! hashing slot, sessions loaded before the other side acts), never left
//! to timing.

use std::time::Duration;

use app::ssr::context::auth_session;
use app::ssr::session::auth::Extended;
use app::ssr::session::ClientInfo;
use app::ssr::session::SessionBackend;
use futures::future::join_all;
use reqwest::StatusCode;
use tower_sessions::session::Id;
use tower_sessions::Session;

use crate::helpers::*;

/// Waits (bounded) for a condition the server reaches on its own, such as
/// "a request is queued for a hashing slot".
async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting until {what}");
}

/// The same session as a second request sees it: its own `Session` over
/// the real store, loaded now.
async fn loaded_elsewhere(app: &TestApp, sid: &str) -> (Session, app::ssr::session::AuthSession) {
    let id: Id = sid.parse().expect("a session ID");
    let session = Session::new(Some(id), app.state.sessions.clone(), None);
    let auth = auth_session(&app.state, session.clone());
    assert!(auth.current().await.expect("load").is_some(), "live");
    (session, auth)
}

/// Sends `count` wrong-password sign-ins for `username` (with `sid` as
/// their cookie) in the background, and returns once the server has
/// `queued` of them waiting for a hashing slot (which the caller holds).
async fn queued_wrong_sign_ins(
    app: &TestApp,
    username: &str,
    sid: Option<&str>,
    count: usize,
    queued: usize,
) -> tokio::task::JoinHandle<Vec<reqwest::Response>> {
    let mut request = app
        .http
        .post(app.url("/api/login"))
        .form(&wrong_password(username));
    if let Some(sid) = sid {
        request = request.header("cookie", format!("__Host-sid={sid}"));
    }
    let requests: Vec<_> = (0..count)
        .map(|_| request.try_clone().expect("a plain form request"))
        .collect();
    let task = tokio::spawn(async move {
        join_all(
            requests
                .into_iter()
                .map(|r| async { r.send().await.expect("answer") }),
        )
        .await
    });
    let hasher = app.state.hasher.clone();
    wait_until("the sign-ins are queued", || hasher.waiting() == queued).await;
    task
}

/// The one answer of a single background sign-in.
async fn only(task: tokio::task::JoinHandle<Vec<reqwest::Response>>) -> reqwest::Response {
    task.await
        .expect("the background request")
        .pop()
        .expect("one answer")
}

fn wrong_password(username: &str) -> [(&str, &str); 2] {
    [
        ("username", username),
        ("password", "Wrong horse 42 battery staple"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_touched_before_a_sign_out_sends_no_cookie_after_it() {
    let app = spawn_app_with(|s| s.password.hash_concurrency = 1).await;
    let sid = app.registered_and_logged_in("alice").await;
    app.clock.advance(61); // the next request touches

    // A request of this browser loads and touches the session, then waits
    // for a hashing slot (a wrong sign-in from another tab)...
    let slot = app.state.hasher.hold_slot().await.expect("slot");
    let late = queued_wrong_sign_ins(&app, "alice", Some(&sid), 1, 1).await;
    // ...while the user signs out in another tab.
    let out = app.post_form("/api/logout", &[], Some(&sid)).await;
    assert_eq!(out.status(), 200);
    drop(slot);

    let late = only(late).await;
    assert_eq!(late.status(), StatusCode::UNAUTHORIZED);
    let cookie = session_set_cookie(late.headers());
    assert!(
        cookie.as_ref().is_none_or(|c| c.value.is_empty()),
        "the signed-out ID came back: {cookie:?}"
    );
    assert_eq!(app.session_rows().await, 0);
    assert!(!app.is_signed_in(&sid).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_touched_before_a_rotation_does_not_overwrite_the_new_cookie() {
    let app = spawn_app_with(|s| s.password.hash_concurrency = 1).await;
    let old = app.registered_and_logged_in("alice").await;
    app.clock.advance(61);

    let slot = app.state.hasher.hold_slot().await.expect("slot");
    let late = queued_wrong_sign_ins(&app, "alice", Some(&old), 1, 1).await;
    // Another tab of the same browser signs in again: the ID rotates
    // exactly as the sign-in server function does it.
    let (session, auth) = loaded_elsewhere(&app, &old).await;
    auth.log_in(1, 0, &["pwd"], &ClientInfo::default())
        .await
        .expect("log in");
    session.save().await.expect("the new session is stored");
    let new = session.id().expect("a new ID").to_string();
    assert_ne!(new, old);
    drop(slot);

    let late = only(late).await;
    assert_eq!(late.status(), StatusCode::UNAUTHORIZED);
    assert!(
        session_set_cookie(late.headers()).is_none(),
        "a late response must not touch the browser's (new) cookie"
    );
    assert!(app.is_signed_in(&new).await);
    assert!(!app.is_signed_in(&old).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extend_of_a_session_ended_meanwhile_writes_nothing_and_is_refused() {
    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("alice").await;
    // The extend request has loaded the session...
    let (session, auth) = loaded_elsewhere(&app, &sid).await;
    // ...then the user signs out in another tab.
    let out = app.post_form("/api/logout", &[], Some(&sid)).await;
    assert_eq!(out.status(), 200);
    let writes = app.state.sessions.writes();

    let extended = auth.extend(&ClientInfo::default()).await.expect("extend");

    assert_eq!(extended, Extended::SessionGone);
    assert!(!session.is_modified(), "nothing to save, no cookie to send");
    assert_eq!(app.state.sessions.writes(), writes);
    assert_eq!(app.session_rows().await, 0);
    // And over HTTP after the sign-out: the visitor's 401, no cookie.
    let res = app.post_form("/api/extend_session", &[], Some(&sid)).await;
    assert_eq!(res.status(), 401);
    assert!(session_set_cookie(res.headers()).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_eight_requests_that_loaded_a_due_session_exactly_one_writes() {
    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("alice").await;
    app.clock.advance(60);
    // All eight have loaded the session before any of them touches it.
    let mut loaded = Vec::new();
    for _ in 0..8 {
        loaded.push(loaded_elsewhere(&app, &sid).await);
    }
    let writes = app.state.sessions.writes();

    let touched = join_all(loaded.iter().map(|(_, auth)| async move {
        let live = auth.current().await.expect("load").expect("live");
        auth.record_activity(&live, ClientInfo::default)
            .await
            .expect("touch")
    }))
    .await;

    assert_eq!(touched.iter().filter(|t| t.is_some()).count(), 1);
    assert_eq!(
        loaded.iter().filter(|(s, _)| s.is_modified()).count(),
        1,
        "only the writer re-sends the cookie"
    );
    assert_eq!(app.state.sessions.writes(), writes + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_parallel_requests_at_the_touch_boundary_write_once_and_send_one_cookie() {
    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("alice").await;
    let mut db = app.db().await;
    app.clock.advance(60);
    let before = data_version(&mut db).await;
    let writes = app.state.sessions.writes();

    let answers = join_all((0..8).map(|_| app.get("/account", Some(&sid)))).await;

    assert!(answers.iter().all(|r| r.status() == 200));
    let cookies = answers
        .iter()
        .filter(|r| session_set_cookie(r.headers()).is_some())
        .count();
    assert_eq!(cookies, 1, "one touch, one cookie");
    assert_eq!(app.state.sessions.writes(), writes + 1);
    let after = data_version(&mut db).await;
    match (before.parse::<i64>(), after.parse::<i64>()) {
        // SQLite counts commits.
        (Ok(before), Ok(after)) => assert_eq!(after, before + 1, "one commit to the database"),
        // PostgreSQL: the content changed (once: `writes` above).
        _ => assert_ne!(after, before, "the touch was written"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_data_saved_by_one_request_survives_a_parallel_touch_and_a_stale_save() {
    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("alice").await;
    app.clock.advance(60);
    let (writer, _) = loaded_elsewhere(&app, &sid).await;
    let (toucher, toucher_auth) = loaded_elsewhere(&app, &sid).await;
    let (stale, _) = loaded_elsewhere(&app, &sid).await;

    writer.insert("step_up_at", 1234).await.expect("insert");
    writer.save().await.expect("the first writer saves");
    // The toucher's snapshot predates that write; its touch and its save
    // (as the session layer makes it) leave the data alone.
    let live = toucher_auth.current().await.expect("load").expect("live");
    let touched = toucher_auth
        .record_activity(&live, ClientInfo::default)
        .await
        .expect("touch");
    assert!(touched.is_some());
    toucher
        .save()
        .await
        .expect("an unchanged save only checks the row");
    // A stale writer is refused rather than overwriting.
    stale.insert("other", 1).await.expect("insert");
    assert!(stale.save().await.is_err(), "a stale snapshot was saved");

    let (fresh, _) = loaded_elsewhere(&app, &sid).await;
    assert_eq!(
        fresh.get::<i64>("step_up_at").await.expect("get"),
        Some(1234)
    );
    assert_eq!(fresh.get::<i64>("other").await.expect("get"), None);
    assert!(app.is_signed_in(&sid).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_parallel_wrong_passwords_with_a_limit_of_three_hash_three_times() {
    let app = spawn_app_with(|s| {
        s.login.max_failures_per_account = 3;
        s.password.hash_concurrency = 1;
    })
    .await;
    app.register("alice").await;
    let runs = app.state.hasher.runs();
    // Nothing is hashed until all twenty are in: the limit must hold
    // while every attempt is still undecided.
    let slot = app.state.hasher.hold_slot().await.expect("slot");
    let burst = queued_wrong_sign_ins(&app, "alice", None, 20, 3).await;
    drop(slot);
    let answers = burst.await.expect("the burst");

    assert!(answers
        .iter()
        .filter(|r| r.status() == 429)
        .all(|r| r.headers().contains_key("retry-after")));
    let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        17,
        "{statuses:?}"
    );
    assert_eq!(app.state.hasher.runs() - runs, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correct_password_gives_its_attempt_back() {
    let app = spawn_app_with(|s| s.login.max_failures_per_account = 2).await;
    app.register("alice").await;
    for _ in 0..3 {
        app.login("alice", None).await;
    }
    let res = app
        .post_form("/api/login", &wrong_password("alice"), None)
        .await;
    assert_eq!(res.status(), 401, "successes are not failures");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_hashing_queue_answers_503_with_retry_after_and_hashes_nothing() {
    let app = spawn_app_with(|s| {
        s.password.hash_concurrency = 1;
        s.password.hash_queue_max = 1;
    })
    .await;
    app.register("alice").await;
    let runs = app.state.hasher.runs();
    let slot = app.state.hasher.hold_slot().await.expect("slot");
    let queued = queued_wrong_sign_ins(&app, "alice", None, 1, 1).await;

    let res = app
        .post_form("/api/login", &wrong_password("bob"), None)
        .await;

    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(res.text().await.expect("body"), "{\"Busy\":2}");
    assert_eq!(app.state.hasher.runs(), runs);
    drop(slot);
    assert_eq!(only(queued).await.status(), 401);
    // A refusal for load is not a failed guess: bob is not throttled.
    let res = app
        .post_form("/api/login", &wrong_password("bob"), None)
        .await;
    assert_eq!(res.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_sign_in_whose_client_left_does_not_hash() {
    let app = spawn_app_with(|s| s.password.hash_concurrency = 1).await;
    app.register("alice").await;
    let runs = app.state.hasher.runs();
    let slot = app.state.hasher.hold_slot().await.expect("slot");
    let client = queued_wrong_sign_ins(&app, "alice", None, 1, 1).await;

    client.abort(); // the browser tab is closed: the connection goes
    let hasher = app.state.hasher.clone();
    wait_until("the sign-in leaves the queue", || hasher.waiting() == 0).await;
    drop(slot);

    // A sign-in after it hashes as usual; the abandoned one never did.
    app.login("alice", None).await;
    assert_eq!(app.state.hasher.runs() - runs, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_but_recently_used_session_holds_no_slot_under_max_per_user() {
    let app = spawn_app_with(|s| {
        s.session.max_per_user = 2;
        s.session.idle_timeout_secs = 3600;
        s.session.absolute_timeout_secs = 3600;
    })
    .await;
    app.register("alice").await;
    let first = app.login("alice", None).await; // absolute deadline t=3600
    app.clock.advance(60);
    let second = app.login("alice", None).await; // idle deadline t=3660
    app.clock.advance(3530);
    assert!(app.is_signed_in(&first).await); // first used last, at t=3590
    app.clock.advance(11); // t=3601: first is past its absolute deadline

    let third = app.login("alice", None).await;

    assert!(!app.is_signed_in(&first).await);
    assert!(app.is_signed_in(&second).await, "a live session was ended");
    assert!(app.is_signed_in(&third).await);
}
