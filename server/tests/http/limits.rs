//! Limits and robustness (issue 13): slow clients are cut off, the server
//! answers 503 over its concurrency limit and 431 to oversized headers.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

async fn connect(app: &TestApp) -> TcpStream {
    let address = app.base.trim_start_matches("http://");
    TcpStream::connect(address).await.expect("connect")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_trickling_its_body_is_cut_off_with_408() {
    let app = spawn_app_with(|s| s.server.request_timeout_secs = 1).await;
    let mut stream = connect(&app).await;
    let started = Instant::now();
    stream
        .write_all(
            b"POST /api/login HTTP/1.1\r\nHost: x\r\n\
              Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 200\r\n\r\nu",
        )
        .await
        .expect("write");
    // One byte every 300 ms: the whole body would take a minute.
    let (mut read, mut write) = stream.into_split();
    let trickle = tokio::spawn(async move {
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if write.write_all(b"x").await.is_err() {
                break;
            }
        }
    });
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    let closed = tokio::time::timeout(Duration::from_secs(6), async {
        loop {
            match read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    trickle.abort();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("TimedOut"), "a clear message: {answer}");
    assert!(closed.is_ok(), "and the connection closed");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_trickling_its_headers_is_disconnected() {
    let app = spawn_app_with(|s| s.server.request_timeout_secs = 1).await;
    let mut stream = connect(&app).await;
    let started = Instant::now();
    stream
        .write_all(b"GET /about HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    let (read, write) = stream.into_split();
    let trickle = tokio::spawn(async move {
        let mut write = write;
        for byte in b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".iter() {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if write.write_all(&[*byte]).await.is_err() {
                break;
            }
        }
    });
    let mut read = read;
    let mut buffer = [0u8; 1024];
    let closed = tokio::time::timeout(Duration::from_secs(6), async {
        loop {
            match read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the connection was closed");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    trickle.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_concurrency_limit_the_answer_is_503_at_once() {
    let app = spawn_app_with(|s| s.server.max_concurrent_requests = 2).await;
    app.register("alice").await;
    app.register("bob").await;
    // Both hashing slots held: the two sign-ins below wait in the queue,
    // holding the two request slots.
    let slots = [
        app.state.hasher.hold_slot().await.expect("slot"),
        app.state.hasher.hold_slot().await.expect("slot"),
    ];
    let waiting: Vec<_> = ["alice", "bob"]
        .into_iter()
        .map(|name| {
            let http = app.http.clone();
            let url = app.url("/api/login");
            tokio::spawn(async move {
                http.post(url)
                    .form(&[("username", name), ("password", PASSWORD)])
                    .send()
                    .await
                    .expect("POST")
                    .status()
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(5);
    while app.state.hasher.waiting() < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(app.state.hasher.waiting(), 2);
    let started = Instant::now();
    let busy = app.get("/about", None).await;
    assert_eq!(busy.status(), 503);
    assert_eq!(busy.headers()["retry-after"], "1");
    assert!(started.elapsed() < Duration::from_secs(1), "not queued");
    assert_eq!(busy.text().await.expect("body"), "{\"Busy\":1}");
    drop(slots);
    for request in waiting {
        assert_eq!(
            request.await.expect("task").as_u16(),
            200,
            "answered once free"
        );
    }
    assert_eq!(app.get("/about", None).await.status(), 200, "free again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_headers_are_refused() {
    let app = spawn_app_with(|s| s.server.max_header_bytes = 8192).await;
    let res = app
        .http
        .get(app.url("/about"))
        .header("x-big", "a".repeat(20_000))
        .send()
        .await
        .expect("GET");
    assert_eq!(res.status(), 431);
    assert_eq!(app.get("/about", None).await.status(), 200);
}

/// Another writer's lock on the users and sessions: SQLite's write lock
/// (`BEGIN IMMEDIATE`), or PostgreSQL's row locks (`SELECT ... FOR UPDATE`).
async fn lock_the_users(app: &TestApp, other: &mut sqlx::AnyConnection) {
    let statements: &[&str] = if app.database.is_sqlite() {
        &["BEGIN IMMEDIATE"]
    } else {
        &[
            "BEGIN",
            "SELECT id FROM users FOR UPDATE",
            "SELECT id_hash FROM sessions FOR UPDATE",
        ]
    };
    for statement in statements {
        sqlx::query(statement)
            .execute(&mut *other)
            .await
            .expect("lock");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_behind_another_writers_lock_waits_or_gets_503_never_500() {
    let app = spawn_app_with(|s| s.database.busy_timeout_ms = 300).await;
    let sid = app.registered_and_logged_in("alice").await;
    let save = |name: &'static str| {
        let app = &app;
        let sid = sid.clone();
        async move {
            app.post_form(
                "/api/profile",
                &[("display_name", name), ("about", "")],
                Some(&sid),
            )
            .await
        }
    };
    // Another writer (a second process, a backup) holds the lock longer
    // than the busy timeout: a clear 503, nothing half-written.
    let mut other = app.db().await;
    lock_the_users(&app, &mut other).await;
    let started = Instant::now();
    let refused = save("Locked out").await;
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "1");
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "it waited first"
    );
    assert_eq!(refused.text().await.expect("body"), "{\"Busy\":1}");
    // A write of the session store itself ("Stay signed in"): 503 as well,
    // not 500.
    let extend = app.post_form("/api/extend_session", &[], Some(&sid)).await;
    assert_eq!(extend.status(), 503, "the session store's busy write");
    assert_eq!(extend.headers()["retry-after"], "1");
    sqlx::query("ROLLBACK")
        .execute(&mut other)
        .await
        .expect("unlock");
    assert!(!app.page("/account", &sid).await.contains("Locked out"));

    // Held shorter than the timeout: the write waits for it and succeeds.
    lock_the_users(&app, &mut other).await;
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        sqlx::query("ROLLBACK")
            .execute(&mut other)
            .await
            .expect("unlock");
    });
    let saved = save("Waited").await;
    assert_eq!(saved.status(), 200);
    release.await.expect("released");
    assert!(app.page("/account", &sid).await.contains("Waited"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_hold_more_than_its_share_of_connections() {
    let app = spawn_app_with(|s| s.server.max_connections_per_ip = 2).await;
    let mut held = vec![connect(&app).await, connect(&app).await];
    // Let the server count both before the third arrives.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut third = connect(&app).await;
    let mut buffer = [0u8; 64];
    let closed = tokio::time::timeout(Duration::from_secs(2), third.read(&mut buffer)).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "the third is closed at once: {closed:?}"
    );
    // The two held ones still work.
    for stream in &mut held {
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write");
        let n = stream.read(&mut buffer).await.expect("read");
        assert!(String::from_utf8_lossy(&buffer[..n]).starts_with("HTTP/1.1 200"));
    }
    drop(held);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(app.get("/health", None).await.status(), 200, "free again");
}
