//! What the server's integration tests share (`server/tests/`): the real
//! app (`TestApp`) on port 0 with a fresh database (SQLite, or PostgreSQL
//! under `TESSERA_TEST_ENGINE=postgres`) and a manual clock, the HTTP calls
//! tests make, and the cookies and headers they read. Concerns of one test
//! file add their steps as extension traits there (`mfa::Mfa`).

pub mod dbsc;
pub mod geoip;
pub mod postgres;
pub mod process;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use app::ssr::clock::ManualClock;
use app::ssr::config::Settings;
use app::ssr::state::AppState;
use leptos::prelude::LeptosOptions;
use reqwest::header::{HeaderMap, ACCEPT, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Response, StatusCode};
use server::startup::Application;
use sqlx::{AnyConnection, Connection};

pub const PASSWORD: &str = "Quartz ladle orbit 97 yawn";

pub struct TestApp {
    pub base: String,
    pub clock: ManualClock,
    pub state: AppState,
    /// The SQLite file (unused when the suite runs on PostgreSQL).
    pub db_path: PathBuf,
    pub database: TestDatabase,
    pub http: reqwest::Client,
    /// The server task and what stops it: dropping the app stops the
    /// server and waits for it, so no test ends with a request of its
    /// server still running on a runtime that is going away.
    server: Option<tokio::task::JoinHandle<std::io::Result<server::serve::Stopped>>>,
    stop: server::serve::StopHandle,
    _dir: tempfile::TempDir,
}

/// How long one request of a test may take: a hang fails the test, naming
/// it, instead of stalling the suite.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.stop();
        let Some(server) = self.server.take() else {
            return;
        };
        // Every HTTP test runs on a multi-thread runtime, where a worker
        // may wait for the server (in-flight requests get the grace period,
        // then are cut); a current-thread runtime cannot wait here.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
            tokio::task::block_in_place(|| {
                runtime.block_on(async {
                    if tokio::time::timeout(std::time::Duration::from_secs(20), server)
                        .await
                        .is_err()
                    {
                        eprintln!("a test server did not stop within 20 s");
                    }
                })
            });
        }
    }
}

pub const CHROME_ON_LINUX: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 \
     (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

/// The database a test app runs on: SQLite in its temporary directory,
/// or, when `TESSERA_TEST_ENGINE=postgres` (`make test` runs the suite a
/// second time so), a fresh PostgreSQL database (issue 14).
#[derive(Debug, Clone)]
pub struct TestDatabase {
    pub path: PathBuf,
    /// Empty for SQLite.
    pub url: String,
}

impl TestDatabase {
    /// Points `settings` at this database (a second server, a restart).
    pub fn apply(&self, settings: &mut Settings) {
        settings.database.path = self.path.clone();
        settings.database.url = self.url.clone();
    }
    pub fn is_sqlite(&self) -> bool {
        self.url.is_empty()
    }
}

pub fn on_postgres() -> bool {
    std::env::var("TESSERA_TEST_ENGINE").as_deref() == Ok("postgres")
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_with_clock(ManualClock::starting_now(), configure).await
}

/// A server on a given clock: a second process on the same database must
/// share the first one's time, or a second passing between the two start-ups
/// ends a one-second delay the test expects to still hold.
pub async fn spawn_app_with_clock(
    clock: ManualClock,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    server::telemetry::init_with_default("error,tower_sessions_core=off,tower_http=off");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings::default();
    settings.database.path = dir.path().join("tessera-test.db");
    if on_postgres() {
        settings.database.url = crate::postgres::fresh_database("http")
            .await
            .expect("TESSERA_TEST_ENGINE=postgres needs TESSERA_TEST_POSTGRES_URL");
    }
    // A test's server stops when the test ends: in-flight requests get
    // this long.
    settings.server.shutdown_grace_secs = 2;
    // The clean-up task would write on its own schedule; tests that count
    // writes must see only the writes requests cause.
    settings.session.cleanup_interval_secs = 24 * 3600;
    // A fresh MFA key per test (64 hex digits), as `make run` makes one.
    settings.mfa.key_file = dir.path().join("mfa.key");
    std::fs::write(&settings.mfa.key_file, "5a".repeat(32)).expect("write the MFA key");
    // An access-token key made at start, read again on every use (a
    // rotation in a test is seen at once).
    settings.jwt.key_dir = dir.path().join("jwt");
    settings.jwt.create_key_if_missing = true;
    settings.jwt.reload_secs = 0;
    configure(&mut settings);
    let db_path = settings.database.path.clone();
    let database = TestDatabase {
        path: db_path.clone(),
        url: settings.database.url.clone(),
    };

    let leptos_options = LeptosOptions::builder()
        .output_name("tessera")
        // The static files cargo-leptos copies into the site (no build
        // output is needed by these tests).
        .site_root(concat!(env!("CARGO_MANIFEST_DIR"), "/../public"))
        .site_addr(SocketAddr::from(([127, 0, 0, 1], 0)))
        .build();
    let app = Application::build(settings, leptos_options, Arc::new(clock.clone()))
        .await
        .expect("the app builds");
    let base = format!("http://{}", app.address());
    let state = app.state().clone();
    let (signals, stop) = server::serve::StopSignals::manual();
    let server = tokio::spawn(app.run_until(signals));

    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        // A browser's user agent: sessions and audit events record it.
        .user_agent(CHROME_ON_LINUX)
        .build()
        .expect("client");
    TestApp {
        base,
        clock,
        state,
        db_path,
        database,
        http,
        server: Some(server),
        stop,
        _dir: dir,
    }
}

/// One `Set-Cookie` for the session cookie, split into its parts.
#[derive(Debug, Clone)]
pub struct SetCookie {
    pub value: String,
    pub attributes: Vec<String>,
}

impl SetCookie {
    pub fn has(&self, attribute: &str) -> bool {
        self.attributes
            .iter()
            .any(|a| a.eq_ignore_ascii_case(attribute))
    }
    pub fn attr(&self, name: &str) -> Option<String> {
        self.attributes.iter().find_map(|a| {
            let (k, v) = a.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }
    pub fn max_age(&self) -> Option<i64> {
        self.attr("Max-Age").and_then(|v| v.parse().ok())
    }
}

pub fn session_set_cookie(headers: &HeaderMap) -> Option<SetCookie> {
    headers.get_all(SET_COOKIE).iter().find_map(|v| {
        let text = v.to_str().ok()?;
        let mut parts = text.split(';').map(str::trim);
        let first = parts.next()?;
        let value = first.strip_prefix("__Host-sid=")?;
        Some(SetCookie {
            value: value.to_owned(),
            attributes: parts.map(str::to_owned).collect(),
        })
    })
}

/// The new session cookie of a response that must rotate the ID.
pub fn new_sid(res: &Response) -> String {
    session_set_cookie(res.headers())
        .expect("a new session cookie")
        .value
}

pub fn location(res: &Response) -> String {
    res.headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str, sid: Option<&str>) -> Response {
        let mut req = self.http.get(self.url(path));
        if let Some(sid) = sid {
            req = req.header(COOKIE, format!("__Host-sid={sid}"));
        }
        req.send().await.expect("GET")
    }

    /// A server-function call as the hydrated client makes it.
    pub async fn post_form(
        &self,
        path: &str,
        form: &[(&str, &str)],
        sid: Option<&str>,
    ) -> Response {
        let mut req = self.http.post(self.url(path)).form(form);
        if let Some(sid) = sid {
            req = req.header(COOKIE, format!("__Host-sid={sid}"));
        }
        req.send().await.expect("POST")
    }

    /// A plain HTML form post, as a browser makes it before hydration.
    pub async fn post_html_form(
        &self,
        path: &str,
        form: &[(&str, &str)],
        sid: Option<&str>,
    ) -> Response {
        let mut req = self
            .http
            .post(self.url(path))
            .header(ACCEPT, "text/html,application/xhtml+xml")
            .header("origin", &self.base)
            .header("referer", self.url("/login"))
            .form(form);
        if let Some(sid) = sid {
            req = req.header(COOKIE, format!("__Host-sid={sid}"));
        }
        req.send().await.expect("POST")
    }

    pub async fn register(&self, username: &str) {
        let res = self
            .post_form(
                "/api/register",
                &[
                    ("username", username),
                    ("password", PASSWORD),
                    ("password_confirm", PASSWORD),
                ],
                None,
            )
            .await;
        assert!(
            res.status().is_success(),
            "register {username}: {}",
            res.status()
        );
    }

    /// Signs in and returns the new session cookie's value.
    pub async fn login(&self, username: &str, sid: Option<&str>) -> String {
        let res = self
            .post_form(
                "/api/login",
                &[("username", username), ("password", PASSWORD)],
                sid,
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK, "login {username}");
        session_set_cookie(res.headers())
            .expect("a session cookie")
            .value
    }

    /// A step-up with the password (a user without MFA); the new ID.
    pub async fn step_up_with_password(&self, sid: &str) -> String {
        let res = self
            .post_form("/api/step_up", &[("secret", PASSWORD)], Some(sid))
            .await;
        assert_eq!(res.status(), StatusCode::OK, "step-up");
        new_sid(&res)
    }

    /// `POST /api/change_password` to `new_password` (typed twice) on `sid`.
    pub async fn change_password(&self, sid: &str, new_password: &str) -> Response {
        self.post_form(
            "/api/change_password",
            &[
                ("password", new_password),
                ("password_confirm", new_password),
            ],
            Some(sid),
        )
        .await
    }

    pub async fn registered_and_logged_in(&self, username: &str) -> String {
        self.register(username).await;
        self.login(username, None).await
    }

    /// Whether `sid` is a live session: /account renders instead of
    /// redirecting to sign-in.
    pub async fn is_signed_in(&self, sid: &str) -> bool {
        let res = self.get("/account", Some(sid)).await;
        match res.status() {
            StatusCode::OK => true,
            StatusCode::SEE_OTHER => false,
            other => panic!("unexpected status {other} for /account"),
        }
    }

    /// A page (200 expected) as HTML without Leptos' `<!>` text-node
    /// markers.
    pub async fn page(&self, path: &str, sid: &str) -> String {
        let res = self.get(path, Some(sid)).await;
        assert_eq!(res.status(), StatusCode::OK, "GET {path}");
        res.text().await.expect("page").replace("<!>", "")
    }

    /// The audit log as `event/outcome`, oldest first.
    pub async fn audit_events(&self) -> Vec<String> {
        let mut db = self.db().await;
        sqlx::query_scalar("SELECT event || '/' || outcome FROM audit_events ORDER BY id")
            .fetch_all(&mut db)
            .await
            .expect("audit events")
    }

    /// A connection of its own to the app's database (either engine; SQL
    /// in the dialect both speak, `$1` parameters).
    pub async fn db(&self) -> AnyConnection {
        sqlx::any::install_default_drivers();
        let url = if self.database.is_sqlite() {
            format!("sqlite://{}", self.db_path.display())
        } else {
            self.database.url.clone()
        };
        AnyConnection::connect(&url)
            .await
            .expect("open the test database")
    }

    /// Everything the database holds, as bytes to search for secrets: the
    /// SQLite files (checkpointed, so the main file has it all too), or on
    /// PostgreSQL every row of every table as text, and its bytea columns'
    /// raw bytes.
    pub async fn stored_bytes(&self) -> Vec<Vec<u8>> {
        let mut db = self.db().await;
        if self.database.is_sqlite() {
            sqlx::query("PRAGMA wal_checkpoint(FULL)")
                .execute(&mut db)
                .await
                .expect("checkpoint");
            return ["", "-wal", "-shm"]
                .iter()
                .filter_map(|suffix| {
                    std::fs::read(format!("{}{suffix}", self.db_path.display())).ok()
                })
                .collect();
        }
        let mut stored = Vec::new();
        for table in TABLES {
            let rows: Vec<String> =
                sqlx::query_scalar(&format!("SELECT CAST(t AS TEXT) FROM {table} t"))
                    .fetch_all(&mut db)
                    .await
                    .expect("rows");
            for row in rows {
                // bytea prints as \x<hex>: its raw bytes too.
                for hex in row.split("\\x").skip(1) {
                    let digits: String = hex.chars().take_while(char::is_ascii_hexdigit).collect();
                    let bytes = (0..digits.len() / 2)
                        .filter_map(|i| u8::from_str_radix(&digits[2 * i..2 * i + 2], 16).ok())
                        .collect();
                    stored.push(bytes);
                }
                stored.push(row.into_bytes());
            }
        }
        stored
    }

    /// `last_seen_at` of the one session row.
    /// After a write to the database from outside this server (a test's
    /// own SQL, the command line): on PostgreSQL, waits until the server
    /// has heard its notifications (`session::cross_server`), so the next
    /// request sees the write; on SQLite (one process) at once.
    pub async fn settle(&self) {
        if let Some(cross_server) = &self.state.cross_server {
            assert!(
                cross_server
                    .caught_up(std::time::Duration::from_secs(10))
                    .await,
                "the session cache's listener did not catch up within 10 s"
            );
        }
    }

    pub async fn last_seen(&self) -> i64 {
        let mut db = self.db().await;
        sqlx::query_scalar("SELECT last_seen_at FROM sessions")
            .fetch_one(&mut db)
            .await
            .expect("last_seen_at")
    }

    pub async fn session_rows(&self) -> i64 {
        let mut db = self.db().await;
        sqlx::query_scalar("SELECT COUNT(*) FROM sessions")
            .fetch_one(&mut db)
            .await
            .expect("count")
    }
}

/// Every table the app writes (both engines' schemas have the same).
pub const TABLES: [&str; 8] = [
    "users",
    "sessions",
    "totp_factors",
    "recovery_codes",
    "passkeys",
    "passkey_ceremonies",
    "audit_events",
    "throttle",
];

/// Changes whenever anything was written: SQLite's `data_version` (which
/// changes, for this connection, whenever another connection commits a
/// change to the file); on PostgreSQL a digest of every table's content.
pub async fn data_version(db: &mut AnyConnection) -> String {
    if db.backend_name() == "SQLite" {
        let version: i64 = sqlx::query_scalar("PRAGMA data_version")
            .fetch_one(db)
            .await
            .expect("data_version");
        return version.to_string();
    }
    let digests = TABLES
        .map(|table| {
            format!(
            "SELECT '{table}:' || md5(COALESCE(string_agg(t::text, ',' ORDER BY t::text), '')) \
             FROM {table} t"
        )
        })
        .join(" UNION ALL ");
    let rows: Vec<String> = sqlx::query_scalar(&digests)
        .fetch_all(db)
        .await
        .expect("table digests");
    rows.join(" ")
}
