//! A fresh PostgreSQL database per test, on the throwaway server that
//! `scripts/postgres.sh run` started (`TESSERA_TEST_POSTGRES_URL`, a
//! superuser URL; `make test` runs every Rust test under it).
//!
//! Without that variable the PostgreSQL tests are skipped with a notice,
//! unless `TESSERA_REQUIRE_POSTGRES=1` (set by `make test`) makes it a
//! failure: the suite cannot pass on PostgreSQL by not running.

/// `postgres://…/<fresh database>`, or `None` to skip.
pub async fn fresh_database(name: &str) -> Option<String> {
    let admin_url = match std::env::var("TESSERA_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            assert!(
                std::env::var("TESSERA_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "TESSERA_REQUIRE_POSTGRES=1 but no TESSERA_TEST_POSTGRES_URL: run under \
                 scripts/postgres.sh run"
            );
            eprintln!("note: no TESSERA_TEST_POSTGRES_URL; the PostgreSQL test {name} is skipped");
            return None;
        }
    };
    sqlx::any::install_default_drivers();
    let database = format!("t_{name}_{:08x}", unique());
    let mut admin = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin_url)
        .await
        .expect("PostgreSQL admin connection");
    sqlx::query(&format!("CREATE DATABASE {database}"))
        .execute(&mut admin)
        .await
        .expect("CREATE DATABASE");
    let (server, _) = admin_url
        .rsplit_once('/')
        .expect("a URL that names a database");
    Some(format!("{server}/{database}"))
}

fn unique() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::{SystemTime, UNIX_EPOCH};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    nanos ^ std::process::id().rotate_left(16) ^ COUNTER.fetch_add(1, Ordering::Relaxed)
}
