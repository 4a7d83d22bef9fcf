//! Micro-benchmarks of the session store and of session-ID hashing
//! (`cargo bench -p server`, or `make bench-micro`). The end-to-end figures
//! are `make bench`'s; these show what one store operation costs on its own.
//!
//! - `id/*`: drawing a 128-bit ID from the OS and hashing it to the stored key.
//! - `store/load`: the per-request read (session joined with its user).
//! - `store/save`: a write of changed session data.
//! - `store/touch`: what a page request costs the store when the touch is
//!   due (policy check + the sliding-deadline write) and when it is not
//!   (policy check only: the common case, no database at all).
//! - `store/create`: a sign-in's insert under a fresh ID.

use std::hint::black_box;
use std::sync::Arc;

use app::ssr::clock::SharedClock;
use app::ssr::clock::SystemClock;
use app::ssr::config::DatabaseSettings;
use app::ssr::config::SessionSettings;
use app::ssr::db::connect_and_migrate;
use app::ssr::session::id::new_session_id;
use app::ssr::session::id::storage_key;
use app::ssr::session::store::deadlines_from_json;
use app::ssr::session::store::AUTH_KEY;
use app::ssr::session::store::META_KEY;
use app::ssr::session::Deadlines;
use app::ssr::session::SessionPolicy;
use app::ssr::session::SqlSessionStore;
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::json;
use tower_sessions::session::Record;
use tower_sessions::SessionStore;

fn ids(c: &mut Criterion) {
    c.bench_function("id/new_session_id", |b| b.iter(new_session_id));
    let id = new_session_id();
    c.bench_function("id/storage_key (SHA-256)", |b| {
        b.iter(|| storage_key(black_box(&id)))
    });
}

struct Fixture {
    store: SqlSessionStore,
    policy: SessionPolicy,
    clock: SharedClock,
    record: Record,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = connect_and_migrate(&DatabaseSettings {
        path: dir.path().join("bench.db"),
        ..DatabaseSettings::default()
    })
    .await
    .expect("database");
    sqlx::query(
        "INSERT INTO users (id, username, password_hash, created_at) VALUES (1, 'bench', 'x', 0)",
    )
    .execute(&db)
    .await
    .expect("user");
    let clock: SharedClock = Arc::new(SystemClock);
    let policy = SessionPolicy::new(&SessionSettings::default());
    // No cache: these measure the database path.
    let store = SqlSessionStore::new(db, policy, clock.clone(), 0, 0);
    let mut record = Record {
        id: new_session_id(),
        data: [(
            AUTH_KEY.to_owned(),
            json!({"user_id": 1, "authenticated_at": clock.now(), "credential_epoch": 0}),
        )]
        .into_iter()
        .collect(),
        expiry_date: time::OffsetDateTime::now_utc() + time::Duration::minutes(30),
    };
    store.create(&mut record).await.expect("create");
    Fixture {
        store,
        policy,
        clock,
        record,
        _dir: dir,
    }
}

fn store(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let f = rt.block_on(fixture());

    c.bench_function("store/load", |b| {
        b.to_async(&rt).iter(|| async {
            let loaded = f.store.load(black_box(&f.record.id)).await;
            assert!(matches!(loaded, Ok(Some(_))));
        })
    });

    let mut changed = f.record.clone();
    changed
        .data
        .insert("note".to_owned(), json!("a changed value"));
    c.bench_function("store/save", |b| {
        b.to_async(&rt)
            .iter(|| async { f.store.save(black_box(&changed)).await.expect("save") })
    });

    let deadlines = rt.block_on(async {
        let loaded = f
            .store
            .load(&f.record.id)
            .await
            .expect("load")
            .expect("live");
        deadlines_from_json(&loaded.data[META_KEY]).expect("deadlines")
    });
    c.bench_function("store/touch (due: check + write)", |b| {
        b.to_async(&rt).iter(|| async {
            let now = f.clock.now();
            // Last seen an hour ago: past the touch interval, so it writes.
            let stale = Deadlines {
                last_seen_at: now - 3600,
                ..deadlines
            };
            if f.policy.touch_is_due(black_box(&stale), now) {
                f.store.save(&f.record).await.expect("touch");
            }
        })
    });
    c.bench_function("store/touch (not due: check only)", |b| {
        b.iter(|| {
            let now = f.clock.now();
            if f.policy.touch_is_due(black_box(&deadlines), now) {
                unreachable!("a fresh session is not due");
            }
        })
    });

    c.bench_function("store/create (sign-in)", |b| {
        b.to_async(&rt).iter(|| async {
            let mut record = f.record.clone();
            f.store.create(&mut record).await.expect("create");
        })
    });
}

criterion_group!(benches, ids, store);
criterion_main!(benches);
