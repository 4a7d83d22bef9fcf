//! One conformance suite for the session store, run against both engines
//! (as tower-sessions' own store tests are run against each store): every
//! test below runs once on a fresh SQLite file and once on a fresh
//! PostgreSQL database. Also: the two schemas are the same tables, columns
//! and indexes.
//!
//! PostgreSQL: see `support/postgres.rs` (`make test` provides it).

use std::sync::Arc;
use std::time::Duration;

use testkit::postgres as support;

use app::ssr::clock::Clock;
use app::ssr::clock::ManualClock;
use app::ssr::clock::SharedClock;
use app::ssr::config::DatabaseSettings;
use app::ssr::config::SessionSettings;
use app::ssr::db::connect_and_migrate;
use app::ssr::db::Pool;
use app::ssr::session::cross_server::{self, CrossServer};
use app::ssr::session::id::storage_key;
use app::ssr::session::store::deadlines_from_json;
use app::ssr::session::store::is_session_gone;
use app::ssr::session::store::ClientInfo;
use app::ssr::session::store::SessionBackend;
use app::ssr::session::store::Touch;
use app::ssr::session::store::AUTH_KEY;
use app::ssr::session::store::CLIENT_KEY;
use app::ssr::session::store::META_KEY;
use app::ssr::session::store::OWNER_KEY;
use app::ssr::session::SessionPolicy;
use app::ssr::session::SqlSessionStore;
use serde_json::json;
use tower_sessions::session::{Id, Record};
use tower_sessions::SessionStore;

/// A fresh, migrated database of one engine, and what keeps it alive.
struct Fresh {
    pool: Pool,
    /// Empty for SQLite.
    url: String,
    _dir: Option<tempfile::TempDir>,
    engine: &'static str,
}

async fn sqlite() -> Fresh {
    let dir = tempfile::tempdir().expect("temp dir");
    let pool = connect_and_migrate(&DatabaseSettings {
        path: dir.path().join("conformance.db"),
        ..DatabaseSettings::default()
    })
    .await
    .expect("sqlite");
    Fresh {
        pool,
        url: String::new(),
        _dir: Some(dir),
        engine: "sqlite",
    }
}

/// A new database on the throwaway server, named after the test.
async fn postgres(name: &str) -> Option<Fresh> {
    let url = support::fresh_database(name).await?;
    let pool = connect_and_migrate(&DatabaseSettings {
        url: url.clone(),
        ..DatabaseSettings::default()
    })
    .await
    .expect("postgres");
    Some(Fresh {
        pool,
        url,
        _dir: None,
        engine: "postgres",
    })
}

/// Runs one conformance test on each engine.
macro_rules! on_both_engines {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(super::sqlite().await).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(fresh) = super::postgres(stringify!($name)).await {
                    super::$name(fresh).await;
                }
            }
        }
    };
}

struct Fixture {
    store: SqlSessionStore,
    clock: ManualClock,
    policy: SessionPolicy,
    pool: Pool,
    engine: &'static str,
    /// PostgreSQL's listener that keeps the cache true (issue 24).
    cross_server: Option<CrossServer>,
    _fresh: Fresh,
}

impl Fixture {
    /// After the test's own SQL: waits until the store has heard of it.
    async fn settle(&self) {
        if let Some(cross_server) = &self.cross_server {
            assert!(cross_server.caught_up(Duration::from_secs(10)).await);
        }
    }
}

const USER: i64 = 1;

async fn fixture(fresh: Fresh, max_per_user: u32) -> Fixture {
    for (id, name) in [(1, "alice"), (2, "bob")] {
        sqlx::query(
            "INSERT INTO users (id, username, password_hash, created_at, display_name) \
             VALUES ($1, $2, 'x', 0, $3)",
        )
        .bind(id as i64)
        .bind(name)
        .bind(format!("{name} display"))
        .execute(&fresh.pool)
        .await
        .expect("user");
    }
    let clock = ManualClock::starting_now();
    let shared: SharedClock = Arc::new(clock.clone());
    let policy = SessionPolicy::new(&SessionSettings::default());
    // SQLite: no cache, the store's own behaviour (the HTTP suite covers
    // the cache). PostgreSQL: the cache on, kept true by its listener, as
    // several servers run it (issue 24).
    let (store, cross_server) = if fresh.url.is_empty() {
        let store = SqlSessionStore::new(fresh.pool.clone(), policy, shared, max_per_user, 0);
        (store, None)
    } else {
        let store =
            SqlSessionStore::shared(fresh.pool.clone(), policy, shared, max_per_user, 1_000);
        let cross_server =
            cross_server::start(fresh.url.clone(), &store.cache(), Duration::from_secs(1))
                .expect("the listener starts");
        let started = std::time::Instant::now();
        while !store.cache().is_trusted() {
            assert!(started.elapsed() < Duration::from_secs(10), "listener up");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        (store, Some(cross_server))
    };
    Fixture {
        store,
        clock,
        policy,
        pool: fresh.pool.clone(),
        engine: fresh.engine,
        cross_server,
        _fresh: fresh,
    }
}

fn client(ip: &str) -> ClientInfo {
    ClientInfo {
        ip: Some(ip.to_owned()),
        user_agent: Some("Conformance/1.0".to_owned()),
    }
}

fn signed_in(fx: &Fixture, user_id: i64, sign_in: &str) -> Record {
    Record {
        id: Id::default(),
        data: [
            (
                AUTH_KEY.to_owned(),
                json!({"user_id": user_id, "authenticated_at": fx.clock.now(),
                       "credential_epoch": 0, "sign_in_id": sign_in}),
            ),
            (CLIENT_KEY.to_owned(), json!(client("192.0.2.1"))),
            ("note".to_owned(), json!("hello")),
        ]
        .into_iter()
        .collect(),
        expiry_date: time::OffsetDateTime::now_utc() + time::Duration::minutes(30),
    }
}

async fn rows(fx: &Fixture) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM sessions")
        .fetch_one(&fx.pool)
        .await
        .expect("count")
}

async fn create_load_round_trip(fresh: Fresh) {
    let fx = fixture(fresh, 0).await;
    let mut record = signed_in(&fx, USER, "s1");
    let planted = record.id;
    fx.store.create(&mut record).await.expect("create");
    assert_ne!(record.id, planted, "{}: create draws a fresh ID", fx.engine);
    let loaded = fx
        .store
        .load(&record.id)
        .await
        .expect("load")
        .expect("found");
    assert_eq!(loaded.data.get("note"), Some(&json!("hello")));
    assert_eq!(loaded.data.get(AUTH_KEY), record.data.get(AUTH_KEY));
    let meta = loaded
        .data
        .get(META_KEY)
        .and_then(deadlines_from_json)
        .expect("deadlines");
    assert_eq!(meta.created_at, fx.clock.now());
    // The owner row is read by the same query (one round trip).
    let owner = loaded.data.get(OWNER_KEY).expect("owner");
    assert_eq!(owner[0], "alice", "{}: {owner}", fx.engine);
    // Only the hash of the ID is stored.
    let stored: Vec<u8> = sqlx::query_scalar("SELECT id_hash FROM sessions")
        .fetch_one(&fx.pool)
        .await
        .expect("row");
    assert_eq!(stored, storage_key(&record.id).to_vec());
    let (ip, sign_in): (Option<String>, Option<String>) =
        sqlx::query_as("SELECT ip_first, sign_in_id FROM sessions")
            .fetch_one(&fx.pool)
            .await
            .expect("row");
    assert_eq!(ip.as_deref(), Some("192.0.2.1"));
    assert_eq!(sign_in.as_deref(), Some("s1"));
    assert!(fx.store.load(&Id::default()).await.expect("load").is_none());
}
on_both_engines!(create_load_round_trip);

async fn deadlines_end_a_session(fresh: Fresh) {
    let fx = fixture(fresh, 0).await;
    let mut record = signed_in(&fx, USER, "s1");
    fx.store.create(&mut record).await.expect("create");
    let idle = SessionSettings::default().idle_timeout_secs as i64;
    fx.clock.advance(idle - 1);
    assert!(fx.store.load(&record.id).await.expect("load").is_some());
    fx.clock.advance(1);
    assert!(
        fx.store.load(&record.id).await.expect("load").is_none(),
        "{}: dead at the idle deadline",
        fx.engine
    );
    assert!(fx
        .store
        .live_sign_in_owner(USER, "s1")
        .await
        .expect("live")
        .is_none());
    let expired = fx.store.delete_expired(100).await.expect("clean-up");
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].user_id, Some(USER));
    assert_eq!(expired[0].reason(), "idle");
    assert_eq!(rows(&fx).await, 0);
}
on_both_engines!(deadlines_end_a_session);

async fn save_writes_only_changes_and_never_a_stale_snapshot(fresh: Fresh) {
    let fx = fixture(fresh, 0).await;
    let mut record = signed_in(&fx, USER, "s1");
    fx.store.create(&mut record).await.expect("create");
    let first = fx.store.load(&record.id).await.expect("load").expect("row");
    let second = fx.store.load(&record.id).await.expect("load").expect("row");
    let writes = fx.store.writes();
    fx.store.save(&first).await.expect("unchanged save");
    assert_eq!(
        fx.store.writes(),
        writes,
        "{}: no write for unchanged data",
        fx.engine
    );

    let mut changed = first.clone();
    changed.data.insert("note".to_owned(), json!("first"));
    fx.store.save(&changed).await.expect("save");
    // The other request loaded the old data: its save must not overwrite.
    let mut stale = second.clone();
    stale.data.insert("note".to_owned(), json!("stale"));
    let error = fx.store.save(&stale).await.expect_err("a stale save");
    assert!(
        is_session_gone(&tower_sessions::session::Error::Store(error)),
        "{}",
        fx.engine
    );
    let now = fx.store.load(&record.id).await.expect("load").expect("row");
    assert_eq!(now.data.get("note"), Some(&json!("first")));
}
on_both_engines!(save_writes_only_changes_and_never_a_stale_snapshot);

async fn a_deleted_session_is_never_resurrected(fresh: Fresh) {
    let fx = fixture(fresh, 0).await;
    let mut record = signed_in(&fx, USER, "s1");
    fx.store.create(&mut record).await.expect("create");
    let loaded = fx.store.load(&record.id).await.expect("load").expect("row");
    fx.store.delete(&record.id).await.expect("delete");
    let mut late = loaded.clone();
    late.data.insert("note".to_owned(), json!("late"));
    assert!(fx.store.save(&late).await.is_err(), "{}", fx.engine);
    assert!(fx.store.save(&loaded).await.is_err(), "unchanged, gone");
    let touched = fx
        .store
        .touch(&record.id, Touch::Always, &client("192.0.2.9"))
        .await
        .expect("touch");
    assert!(touched.is_none(), "a touch of a deleted row writes nothing");
    assert_eq!(rows(&fx).await, 0);
    assert!(fx.store.load(&record.id).await.expect("load").is_none());
}
on_both_engines!(a_deleted_session_is_never_resurrected);

async fn a_rotation_keeps_the_deadlines_and_the_sign_in(fresh: Fresh) {
    let fx = fixture(fresh, 0).await;
    let mut record = signed_in(&fx, USER, "s1");
    fx.store.create(&mut record).await.expect("create");
    let before = fx.store.load(&record.id).await.expect("load").expect("row");
    fx.clock.advance(100);
    // What tower-sessions does on cycle_id: delete the old ID, create anew
    // with the data (our META carried).
    let mut rotated = before.clone();
    fx.store.delete(&before.id).await.expect("delete");
    fx.store.create(&mut rotated).await.expect("create");
    assert_ne!(rotated.id, before.id);
    let after = fx
        .store
        .load(&rotated.id)
        .await
        .expect("load")
        .expect("row");
    let created = |r: &Record| {
        r.data
            .get(META_KEY)
            .and_then(deadlines_from_json)
            .map(|d| d.created_at)
    };
    assert_eq!(
        created(&after),
        created(&before),
        "{}: the absolute deadline does not restart",
        fx.engine
    );
    assert!(fx.store.load(&before.id).await.expect("load").is_none());
    let owner = fx.store.live_sign_in_owner(USER, "s1").await.expect("live");
    assert_eq!(
        owner.map(|o| o.username).as_deref(),
        Some("alice"),
        "{}",
        fx.engine
    );
}
on_both_engines!(a_rotation_keeps_the_deadlines_and_the_sign_in);

async fn of_parallel_touches_exactly_one_writes(fresh: Fresh) {
    let fx = Arc::new(fixture(fresh, 0).await);
    let mut record = signed_in(&fx, USER, "s1");
    fx.store.create(&mut record).await.expect("create");
    let interval = SessionSettings::default().touch_interval_secs as i64;
    // Not due yet: nothing written.
    let none = fx
        .store
        .touch(&record.id, Touch::IfDue, &client("192.0.2.1"))
        .await
        .expect("touch");
    assert!(none.is_none());
    fx.clock.advance(interval);
    let mut handles = Vec::new();
    for i in 0..8 {
        let fx = fx.clone();
        let id = record.id;
        handles.push(tokio::spawn(async move {
            fx.store
                .touch(&id, Touch::IfDue, &client(&format!("192.0.2.{}", 10 + i)))
                .await
                .expect("touch")
        }));
    }
    let mut written = 0;
    for handle in handles {
        if let Some(deadlines) = handle.await.expect("task") {
            written += 1;
            assert_eq!(deadlines.last_seen_at, fx.clock.now());
            assert!(deadlines.idle_expires_at <= deadlines.absolute_expires_at);
        }
    }
    assert_eq!(written, 1, "{}: exactly one of 8 touches writes", fx.engine);
    // Always writes, and the idle deadline never passes the absolute one:
    // kept alive up to the absolute deadline, then no further.
    let settings = SessionSettings::default();
    let (idle, absolute) = (
        settings.idle_timeout_secs as i64,
        settings.absolute_timeout_secs as i64,
    );
    let mut deadlines = None;
    while fx.clock.now() + idle - 1 < deadline_absolute(&fx, &record).await.unwrap_or(0) {
        fx.clock.advance(idle - 1);
        deadlines = fx
            .store
            .touch(&record.id, Touch::Always, &client("192.0.2.1"))
            .await
            .expect("touch");
        assert!(deadlines.is_some(), "{}: alive while touched", fx.engine);
    }
    let last = deadlines.expect("touched at least once");
    assert_eq!(last.idle_expires_at, last.absolute_expires_at);
    assert_eq!(last.absolute_expires_at, last.created_at + absolute);
    let _ = fx.policy;
}
on_both_engines!(of_parallel_touches_exactly_one_writes);

async fn deadline_absolute(fx: &Fixture, record: &Record) -> Option<i64> {
    sqlx::query_scalar("SELECT absolute_expires_at FROM sessions WHERE id_hash = $1")
        .bind(storage_key(&record.id).to_vec())
        .fetch_optional(&fx.pool)
        .await
        .expect("row")
}

/// Three sign-ins of alice, a second apart; their IDs, oldest first.
async fn three_sign_ins(fx: &Fixture) -> Vec<Id> {
    let mut ids = Vec::new();
    for n in 0..3 {
        let mut record = signed_in(fx, USER, &format!("s{n}"));
        fx.store.create(&mut record).await.expect("create");
        ids.push(record.id);
        fx.clock.advance(1);
    }
    ids
}

async fn a_users_sessions_are_listed_and_ended(fresh: Fresh) {
    let fx = fixture(fresh, 0).await;
    let ids = three_sign_ins(&fx).await;
    let mut bobs = signed_in(&fx, 2, "b1");
    fx.store.create(&mut bobs).await.expect("create");
    let live = fx.store.live_sessions_of(USER).await.expect("list");
    assert_eq!(live.len(), 3, "{}", fx.engine);
    assert_eq!(
        live[0].id_hash,
        storage_key(&ids[2]).to_vec(),
        "newest first"
    );
    assert!(fx
        .store
        .delete_one_for_user(USER, &storage_key(&ids[0]))
        .await
        .expect("one"));
    assert!(
        !fx.store
            .delete_one_for_user(USER, &storage_key(&bobs.id))
            .await
            .expect("not hers"),
        "{}: one user cannot end another's session",
        fx.engine
    );
    assert_eq!(
        fx.store
            .delete_others_for_user(USER, &storage_key(&ids[2]))
            .await
            .expect("others"),
        1
    );
    assert!(fx.store.load(&ids[2]).await.expect("load").is_some());
    assert_eq!(fx.store.delete_all_for_user(USER).await.expect("all"), 1);
    assert!(fx.store.load(&bobs.id).await.expect("load").is_some());
    assert!(fx
        .store
        .live_sign_in_owner(2, "b1")
        .await
        .expect("live")
        .is_some());
    assert!(fx
        .store
        .live_sign_in_owner(USER, "b1")
        .await
        .expect("not hers")
        .is_none());
}
on_both_engines!(a_users_sessions_are_listed_and_ended);

async fn past_the_per_user_limit_the_least_recent_end(fresh: Fresh) {
    let fx = fixture(fresh, 2).await;
    let ids = three_sign_ins(&fx).await;
    assert!(
        fx.store.load(&ids[0]).await.expect("load").is_none(),
        "{}",
        fx.engine
    );
    assert!(fx.store.load(&ids[1]).await.expect("load").is_some());
    assert!(fx.store.load(&ids[2]).await.expect("load").is_some());
}
on_both_engines!(past_the_per_user_limit_the_least_recent_end);

/// Review E17: parallel sign-ins of one user never leave more live
/// sessions than the limit (on PostgreSQL each one's eviction must see the
/// others' rows: the user's row is locked first).
async fn parallel_sign_ins_never_exceed_the_per_user_limit(fresh: Fresh) {
    let fx = fixture(fresh, 2).await;
    // Rounds of four at once (the pool's size): the last writers of a
    // round are the ones whose evictions could miss each other's rows.
    for round in 0..10 {
        let creates: Vec<_> = (0..4)
            .map(|n| {
                let store = fx.store.clone();
                let mut record = signed_in(&fx, USER, &format!("r{round}p{n}"));
                tokio::spawn(async move { store.create(&mut record).await })
            })
            .collect();
        for create in creates {
            create.await.expect("joined").expect("created");
        }
        let live = fx.store.live_sessions_of(USER).await.expect("list");
        assert_eq!(
            live.len(),
            2,
            "{}, round {round}: {} live sessions",
            fx.engine,
            live.len()
        );
    }
}
on_both_engines!(parallel_sign_ins_never_exceed_the_per_user_limit);

async fn deleting_a_user_ends_their_sessions(fresh: Fresh) {
    let fx = fixture(fresh, 0).await;
    let mut record = signed_in(&fx, USER, "s1");
    fx.store.create(&mut record).await.expect("create");
    // Loaded, so cached where there is a cache.
    assert!(fx.store.load(&record.id).await.expect("load").is_some());
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(USER)
        .execute(&fx.pool)
        .await
        .expect("delete user");
    fx.settle().await;
    assert!(
        fx.store.load(&record.id).await.expect("load").is_none(),
        "{}: ON DELETE CASCADE",
        fx.engine
    );
}
on_both_engines!(deleting_a_user_ends_their_sessions);

/// Tables, columns and index names of a database, sorted: the shape both
/// engines must share (types differ by engine and are not compared).
async fn shape(pool: &Pool, engine: &str) -> Vec<String> {
    let sql = match engine {
        "sqlite" => {
            "SELECT 'table ' || m.name || '.' || p.name FROM sqlite_master m, \
               pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx%' \
             UNION ALL \
             SELECT 'index ' || name FROM sqlite_master \
             WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex_%'"
        }
        _ => {
            "SELECT 'table ' || table_name || '.' || column_name FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name NOT LIKE '_sqlx%' \
             UNION ALL \
             SELECT 'index ' || i.indexname FROM pg_indexes i \
             WHERE i.schemaname = 'public' AND i.tablename NOT LIKE '_sqlx%' \
               AND NOT EXISTS (SELECT 1 FROM pg_constraint c \
                               WHERE c.conname = i.indexname)"
        }
    };
    let mut shape: Vec<String> = sqlx::query_scalar(sql)
        .fetch_all(pool)
        .await
        .expect("schema");
    shape.sort();
    shape
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_engines_have_the_same_tables_columns_and_indexes() {
    let Some(postgres) = postgres("schema").await else {
        return;
    };
    let sqlite = sqlite().await;
    let (a, b) = (
        shape(&sqlite.pool, "sqlite").await,
        shape(&postgres.pool, "postgres").await,
    );
    assert!(a.iter().any(|s| s == "table sessions.id_hash"), "{a:?}");
    assert!(a.iter().any(|s| s == "index sessions_by_user"), "{a:?}");
    let only_sqlite: Vec<_> = a.iter().filter(|s| !b.contains(s)).collect();
    let only_postgres: Vec<_> = b.iter().filter(|s| !a.contains(s)).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "only in SQLite: {only_sqlite:?}; only in PostgreSQL: {only_postgres:?}"
    );
}
