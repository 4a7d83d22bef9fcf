//! Faults survived, with nothing lost (issue 24): PostgreSQL stopped for
//! 10 s under load (quick 503s with `Retry-After`, never a 500 or a hang,
//! and service again on its own once it is back); SQLite on a full disk
//! (writes 503, cached sessions still served, writes again once there is
//! room); a server killed mid-write (every session answered as created
//! works after a restart).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use testkit::process::{self, client, is_signed_in, sign_in, wait_up};
use testkit::{spawn_app_with, TestApp, PASSWORD};

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// A PostgreSQL of this test's own (scripts/postgres.sh), to stop and
/// start; deleted when dropped.
struct OwnPostgres {
    dir: PathBuf,
    url: String,
}

impl OwnPostgres {
    fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("tessera-faults-pg-{}", std::process::id()));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let out = Command::new("scripts/postgres.sh")
            .current_dir(root())
            .args(["start", &dir.display().to_string(), &port.to_string()])
            .output()
            .expect("scripts/postgres.sh runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let url = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        Self { dir, url }
    }

    fn script(&self, what: &str) {
        let status = Command::new("scripts/postgres.sh")
            .current_dir(root())
            .args([what, &self.dir.display().to_string()])
            .status()
            .expect("scripts/postgres.sh runs");
        assert!(status.success(), "postgres.sh {what}");
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = Command::new("scripts/postgres.sh")
            .current_dir(root())
            .args(["stop", &self.dir.display().to_string()])
            .status();
    }
}

/// One answer seen by the load: status, `Retry-After`, how long it took.
#[derive(Debug, Clone)]
struct Seen {
    status: u16,
    retry_after: bool,
    took: Duration,
}

/// Requests `sid`'s account page and status read in a loop on `workers`
/// tasks until `stop`; every answer is recorded.
fn load(app: &TestApp, sid: &str, stop: Arc<AtomicBool>) -> Arc<Mutex<Vec<Seen>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    for worker in 0..4 {
        let (http, base, sid, stop, seen) = (
            app.http.clone(),
            app.base.clone(),
            sid.to_owned(),
            stop.clone(),
            seen.clone(),
        );
        tokio::spawn(async move {
            let path = if worker % 2 == 0 {
                "/account"
            } else {
                "/api/session_status"
            };
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let answer = http
                    .get(format!("{base}{path}"))
                    .header("cookie", format!("__Host-sid={sid}"))
                    .send()
                    .await;
                let Ok(res) = answer else { continue };
                seen.lock().expect("lock").push(Seen {
                    status: res.status().as_u16(),
                    retry_after: res.headers().contains_key("retry-after"),
                    took: started.elapsed(),
                });
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_stopped_under_load_gets_quick_503s_then_service_again_on_its_own() {
    if std::env::var("TESSERA_TEST_POSTGRES_URL").is_err()
        && std::env::var("TESSERA_REQUIRE_POSTGRES").as_deref() != Ok("1")
    {
        eprintln!("note: not under scripts/postgres.sh run; the PostgreSQL fault test is skipped");
        return;
    }
    let postgres = OwnPostgres::start();
    let url = postgres.url.clone();
    let app = spawn_app_with(move |s| {
        s.database.url = url;
        s.database.acquire_timeout_ms = 1_000;
    })
    .await;
    let sid = app.registered_and_logged_in("alice").await;
    assert!(app.is_signed_in(&sid).await);
    let stop = Arc::new(AtomicBool::new(false));
    let seen = load(&app, &sid, stop.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;

    postgres.script("pause");
    let stopped_at = seen.lock().expect("lock").len();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ready = app.get("/health/ready", None).await;
    assert_eq!(ready.status(), 503, "not ready while the database is down");
    assert!(ready.headers().contains_key("retry-after"));
    assert_eq!(app.get("/health", None).await.status(), 200, "but alive");
    tokio::time::sleep(Duration::from_secs(8)).await;
    postgres.script("resume");
    let resumed = Instant::now();
    while !app.is_signed_in(&sid).await {
        assert!(
            resumed.elapsed() < Duration::from_secs(30),
            "service again within 30 s of the database's return"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let recovered_after = resumed.elapsed();
    stop.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(100)).await;

    let seen = seen.lock().expect("lock").clone();
    let during = &seen[stopped_at..];
    let unavailable = during.iter().filter(|s| s.status == 503).count();
    assert!(unavailable > 0, "the outage was seen: {during:?}");
    for answer in &seen {
        assert!(
            matches!(answer.status, 200 | 503),
            "only answers or 503s, never a 500: {answer:?}"
        );
        if answer.status == 503 {
            assert!(answer.retry_after, "a 503 says when to retry: {answer:?}");
        }
        assert!(
            answer.took < Duration::from_secs(5),
            "quick, never a hang: {answer:?}"
        );
    }
    assert_eq!(app.get("/health/ready", None).await.status(), 200);
    // The session made before the outage is intact, and the cache is
    // trusted again.
    assert!(app.is_signed_in(&sid).await);
    let trusted = Instant::now();
    while !app.state.sessions.cache().is_trusted() {
        assert!(
            trusted.elapsed() < Duration::from_secs(15),
            "cache trusted again"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "outage: {} answers, {unavailable} of them 503 during it; served again {recovered_after:?} \
         after the database came back",
        seen.len()
    );
}

/// A tmpfs of `size` mounted at a new directory; unmounted when dropped.
struct SmallDisk(tempfile::TempDir);

impl SmallDisk {
    fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().expect("temp dir");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .ok()?;
        status.success().then_some(Self(dir))
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    /// Writes a file until the disk is full; removing it frees the room.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let filler = self.path().join("filler");
        let mut file = std::fs::File::create(&filler).expect("filler");
        let block = vec![0u8; 64 * 1024];
        while file.write_all(&block).is_ok() {}
        let _ = file.flush();
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_on_a_full_disk_refuses_writes_with_503_and_still_serves_cached_sessions() {
    let Some(disk) = SmallDisk::mount("8m") else {
        // Mounting needs root (this machine and CI's run as root); a
        // container without the right to mount skips it, and says so.
        eprintln!("note: cannot mount a tmpfs here; the full-disk test is skipped");
        return;
    };
    let db = disk.path().join("tessera.db");
    let app = spawn_app_with(move |s| s.database.path = db).await;
    if !app.database.is_sqlite() {
        return;
    }
    let sid = app.registered_and_logged_in("alice").await;
    assert!(app.is_signed_in(&sid).await, "cached");

    let filler = disk.fill();
    let mut refused = 0;
    for i in 0..40 {
        let name = format!("user{i}");
        let res = app
            .post_form(
                "/api/register",
                &[
                    ("username", name.as_str()),
                    ("password", PASSWORD),
                    ("password_confirm", PASSWORD),
                ],
                None,
            )
            .await;
        match res.status().as_u16() {
            200 => {}
            503 => {
                assert!(res.headers().contains_key("retry-after"));
                refused += 1;
            }
            other => panic!("a write on a full disk: {other}, never a 500"),
        }
    }
    assert!(refused > 0, "the full disk refused some writes");
    // The signed-in session is still served (from the cache), also when
    // its activity is due to be written and cannot be.
    assert!(app.is_signed_in(&sid).await);
    app.clock.advance(120);
    assert!(app.is_signed_in(&sid).await, "a failed touch is not fatal");
    let res = app
        .post_form(
            "/api/login",
            &[("username", "alice"), ("password", PASSWORD)],
            None,
        )
        .await;
    assert_eq!(res.status(), 503, "a new session cannot be stored: 503");

    // Room again: writes go through, nothing earlier lost.
    std::fs::remove_file(filler).expect("free the disk");
    let res = app
        .post_form(
            "/api/login",
            &[("username", "alice"), ("password", PASSWORD)],
            None,
        )
        .await;
    assert_eq!(res.status(), 200, "writes again once there is room");
    assert!(app.is_signed_in(&sid).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_write_loses_no_session_it_answered_as_created() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("killed.db");
    let http = client();
    let server = process::start_with(env!("CARGO_BIN_EXE_server"), &db, &[]);
    wait_up(&http, &server.base).await;
    let res = http
        .post(format!("{}/api/register", server.base))
        .form(&[
            ("username", "alice"),
            ("password", PASSWORD),
            ("password_confirm", PASSWORD),
        ])
        .send()
        .await
        .expect("register");
    assert!(res.status().is_success());

    // Sign-ins in parallel; the server is killed (SIGKILL: no shutdown of
    // any kind) while they are being written.
    let created = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let (http, base, created) = (http.clone(), server.base.clone(), created.clone());
        tasks.push(tokio::spawn(async move {
            while let Ok(sid) = sign_in(&http, &base, "alice").await {
                created.lock().expect("lock").push(sid);
            }
        }));
    }
    let started = Instant::now();
    while created.lock().expect("lock").len() < 30 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "sign-ins go through"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let pid = server.child.id().to_string();
    let killed = Command::new("kill").args(["-KILL", &pid]).status();
    assert!(killed.is_ok_and(|s| s.success()));
    for task in tasks {
        let _ = task.await;
    }
    drop(server);

    let created = created.lock().expect("lock").clone();
    let restarted = process::start_with(env!("CARGO_BIN_EXE_server"), &db, &[]);
    wait_up(&http, &restarted.base).await;
    for sid in &created {
        assert!(
            is_signed_in(&http, &restarted.base, sid).await,
            "a session answered as created survives the kill"
        );
    }
    eprintln!(
        "{} sessions answered before the kill, all alive after",
        created.len()
    );
}
