//! The brute-force throttle in the database (issue 12): a doubling delay
//! past each limit, the same generic answer, reset by success, per account
//! and address, per address, per account everywhere (but the addresses it
//! signed in from), for registrations, and across a restart.

use reqwest::StatusCode;

use crate::helpers::{spawn_app_with, spawn_app_with_clock, TestApp, PASSWORD};

async fn wrong(app: &TestApp, username: &str) -> reqwest::Response {
    app.post_form(
        "/api/login",
        &[("username", username), ("password", "not-the-password")],
        None,
    )
    .await
}

fn retry_after(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_delay_doubles_past_the_limit_and_a_success_resets_it() {
    let app = spawn_app_with(|s| s.login.max_failures_per_account = 3).await;
    app.register("alice").await;
    for _ in 0..3 {
        assert_eq!(
            wrong(&app, "alice").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let res = wrong(&app, "alice").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after(&res).as_deref(), Some("1"));
    let body = res.text().await.expect("body");
    assert!(
        body.contains("TooManyAttempts"),
        "the same generic answer: {body}"
    );
    app.clock.advance(1);
    assert_eq!(
        wrong(&app, "alice").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let res = wrong(&app, "alice").await;
    assert_eq!(retry_after(&res).as_deref(), Some("2"), "doubled");
    app.clock.advance(2);
    assert_eq!(
        wrong(&app, "alice").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        retry_after(&wrong(&app, "alice").await).as_deref(),
        Some("4")
    );
    // The right password after the delay signs in, and clears the count
    // for this address: the next mistake is an ordinary one.
    app.clock.advance(4);
    app.login("alice", None).await;
    assert_eq!(
        wrong(&app, "alice").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        wrong(&app, "alice").await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_delay_is_capped_at_fifteen_minutes_and_the_window_ends_it() {
    let app = spawn_app_with(|s| {
        s.login.max_failures_per_account = 1;
        s.login.failure_window_secs = 3600;
    })
    .await;
    app.register("alice").await;
    let mut waits = Vec::new();
    for _ in 0..12 {
        assert_eq!(
            wrong(&app, "alice").await.status(),
            StatusCode::UNAUTHORIZED
        );
        let res = wrong(&app, "alice").await;
        let wait: i64 = retry_after(&res)
            .and_then(|w| w.parse().ok())
            .expect("retry-after");
        waits.push(wait);
        app.clock.advance(wait);
    }
    assert_eq!(&waits[..4], &[1, 2, 4, 8]);
    assert_eq!(*waits.last().expect("waits"), 900, "{waits:?}");
    // Never a permanent lockout.
    app.clock.advance(3600);
    app.login("alice", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_trying_many_usernames_is_throttled() {
    let app = spawn_app_with(|s| s.login.max_failures_per_address = 3).await;
    for name in ["ann", "ben", "cat"] {
        assert_eq!(wrong(&app, name).await.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        wrong(&app, "dan").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_limit_across_addresses_spares_an_address_the_account_signed_in_from() {
    let app = spawn_app_with(|s| {
        s.login.max_failures_per_account = 100;
        s.login.max_failures_per_account_everywhere = 2;
    })
    .await;
    // Bob never signed in from here: his account-wide limit applies.
    app.register("bob").await;
    for _ in 0..2 {
        assert_eq!(wrong(&app, "bob").await.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        wrong(&app, "bob").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // Alice signed in from here before: mistakes from her usual address
    // are not held back by failures elsewhere.
    app.register("alice").await;
    app.login("alice", None).await;
    for _ in 0..4 {
        assert_eq!(
            wrong(&app, "alice").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_are_throttled_per_address() {
    let app = spawn_app_with(|s| s.login.max_registrations_per_address = 2).await;
    app.register("one").await;
    app.register("two").await;
    let res = app
        .post_form(
            "/api/register",
            &[
                ("username", "three"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&res).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_throttle_survives_a_restart() {
    let first = spawn_app_with(|s| s.login.max_failures_per_account = 2).await;
    first.register("alice").await;
    for _ in 0..2 {
        assert_eq!(
            wrong(&first, "alice").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // Another server process on the same database (as after a restart).
    let database = first.database.clone();
    let second = spawn_app_with_clock(first.clock.clone(), move |s| {
        database.apply(s);
        s.login.max_failures_per_account = 2;
    })
    .await;
    assert_eq!(
        wrong(&second, "alice").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

async fn wrong_from(app: &TestApp, username: &str, forwarded_for: &str) -> StatusCode {
    app.http
        .post(app.url("/api/login"))
        .header("x-forwarded-for", forwarded_for)
        .form(&[("username", username), ("password", "not-the-password")])
        .send()
        .await
        .expect("POST")
        .status()
}

async fn audited_ips(app: &TestApp) -> Vec<Option<String>> {
    let mut db = app.db().await;
    sqlx::query_scalar("SELECT ip FROM audit_events ORDER BY id")
        .fetch_all(&mut db)
        .await
        .expect("events")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_forwarded_for_is_ignored_from_an_untrusted_peer() {
    let app = spawn_app_with(|s| s.login.max_failures_per_address = 2).await;
    for _ in 0..2 {
        assert_eq!(
            wrong_from(&app, "ann", "203.0.113.9").await,
            StatusCode::UNAUTHORIZED
        );
    }
    // A new forged address does not buy fresh attempts.
    assert_eq!(
        wrong_from(&app, "ann", "198.51.100.1").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert!(audited_ips(&app)
        .await
        .iter()
        .all(|ip| ip.as_deref() == Some("127.0.0.1")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_forwarded_for_names_the_client_behind_a_trusted_proxy() {
    let app = spawn_app_with(|s| {
        s.proxy.trusted = "127.0.0.1".to_owned();
        s.login.max_failures_per_address = 2;
    })
    .await;
    for _ in 0..2 {
        assert_eq!(
            wrong_from(&app, "ann", "203.0.113.9").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        wrong_from(&app, "ann", "203.0.113.9").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another client behind the same proxy is another address.
    assert_eq!(
        wrong_from(&app, "ann", "198.51.100.1").await,
        StatusCode::UNAUTHORIZED
    );
    let ips = audited_ips(&app).await;
    assert!(ips.contains(&Some("203.0.113.9".to_owned())), "{ips:?}");
    assert!(!ips.contains(&Some("127.0.0.1".to_owned())), "{ips:?}");
}

/// Review E14: one clean-up pass deletes every spent throttle row, batch
/// after batch, not one batch per pass (the table could grow ~180 times
/// faster than it shrank under a stuffing attack with fresh usernames).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_clean_up_pass_deletes_every_spent_throttle_row() {
    let app = spawn_app_with(|s| s.session.cleanup_batch_size = 2).await;
    for n in 0..5 {
        let name = format!("nobody{n}");
        let res = app
            .post_form(
                "/api/login",
                &[("username", name.as_str()), ("password", "not it at all 1")],
                None,
            )
            .await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let rows = || async {
        let mut db = app.db().await;
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM throttle")
            .fetch_one(&mut db)
            .await
            .expect("count")
    };
    assert!(rows().await > 4, "several batches' worth");
    app.clock.advance(901);
    server::maintenance::clean_once(&app.state).await;
    assert_eq!(rows().await, 0);
}

/// Review E2: an IPv6 client is counted by its /64, so new addresses in one
/// network buy no fresh attempts (here from behind a trusted proxy, as a
/// dual-stack deployment sees them); another network has its own count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_addresses_of_one_network_share_one_limit() {
    let app = spawn_app_with(|s| {
        s.proxy.trusted = "127.0.0.1".to_owned();
        s.login.max_failures_per_address = 2;
    })
    .await;
    for address in ["2001:db8:1:2::1", "2001:db8:1:2:aaaa:bbbb:cccc:dddd"] {
        assert_eq!(
            wrong_from(&app, "ann", address).await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        wrong_from(&app, "ben", "2001:db8:1:2:9999::42").await,
        StatusCode::TOO_MANY_REQUESTS,
        "a third address of the same /64"
    );
    assert_eq!(
        wrong_from(&app, "ben", "2001:db8:1:3::1").await,
        StatusCode::UNAUTHORIZED,
        "another /64 is another client"
    );
}

/// Review E14: a throttled address is recorded once per window, not once
/// per refused attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_address_is_recorded_once_per_window() {
    let app = spawn_app_with(|s| s.login.max_failures_per_address = 2).await;
    for name in ["ann", "ben"] {
        assert_eq!(wrong(&app, name).await.status(), StatusCode::UNAUTHORIZED);
    }
    for n in 0..6 {
        let name = format!("refused{n}");
        assert_eq!(
            wrong(&app, &name).await.status(),
            StatusCode::TOO_MANY_REQUESTS
        );
    }
    let throttled =
        |events: Vec<String>| events.iter().filter(|e| *e == "throttled/failure").count();
    assert_eq!(throttled(app.audit_events().await), 1);
    // The next window's first refusal is news again.
    app.clock.advance(901);
    for name in ["cat", "dan"] {
        let _ = wrong(&app, name).await;
    }
    assert_eq!(
        wrong(&app, "eve").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(throttled(app.audit_events().await), 2);
}
