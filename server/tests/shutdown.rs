//! Signals on the real binary (issue 13): SIGTERM while 50 sign-ins are in
//! flight (every one is answered, the server exits cleanly, and after a
//! restart on the same database every session still works); a second
//! signal stops at once; SIGHUP reloads the TLS certificate without
//! dropping open connections.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use testkit::process::{self, client, is_signed_in, sign_in, wait_up, Server};
use testkit::PASSWORD;
const USERS: usize = 50;

fn start(db: &Path) -> Server {
    start_with(db, &[])
}

fn start_with(db: &Path, extra: &[(&str, String)]) -> Server {
    process::start_with(env!("CARGO_BIN_EXE_server"), db, extra)
}

/// Registers `USERS` users (returned) and `also`.
async fn register_users(http: &reqwest::Client, base: &str, also: &[&str]) -> Vec<String> {
    let names: Vec<String> = (0..USERS).map(|i| format!("user{i:02}")).collect();
    let extra = also.iter().map(|name| (*name).to_owned());
    for name in names.iter().cloned().chain(extra) {
        let res = http
            .post(format!("{base}/api/register"))
            .form(&[
                ("username", name.as_str()),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ])
            .send()
            .await
            .expect("register");
        assert!(res.status().is_success(), "{name}: {}", res.status());
    }
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_answers_every_request_in_flight_and_sessions_survive_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("t.db");
    let http = client();
    let mut server = start(&db);
    wait_up(&http, &server.base).await;
    let names = register_users(&http, &server.base, &["keeper"]).await;
    let keeper = sign_in(&http, &server.base, "keeper")
        .await
        .expect("keeper signs in");
    assert!(is_signed_in(&http, &server.base, &keeper).await);

    // 50 sign-ins at once: each waits its turn for argon2, so most are
    // still in flight when SIGTERM comes (sent when the first is answered).
    let (first_tx, first_rx) = tokio::sync::oneshot::channel::<()>();
    let first_tx = std::sync::Arc::new(std::sync::Mutex::new(Some(first_tx)));
    let sign_ins: Vec<_> = names
        .iter()
        .map(|name| {
            let http = http.clone();
            let base = server.base.clone();
            let name = name.clone();
            let first = first_tx.clone();
            tokio::spawn(async move {
                let result = sign_in(&http, &base, &name).await;
                if let Some(tx) = first.lock().ok().and_then(|mut f| f.take()) {
                    let _ = tx.send(());
                }
                result
            })
        })
        .collect();
    first_rx.await.expect("a first answer");
    let sent = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    let mut sessions = Vec::new();
    for sign_in in sign_ins {
        sessions.push(sign_in.await.expect("task").expect("answered, not lost"));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = server.child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "the server did not exit");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "a graceful stop exits with 0: {status:?}");

    // Same database, new process: every session still works.
    let restarted = start(&db);
    wait_up(&http, &restarted.base).await;
    assert!(is_signed_in(&http, &restarted.base, &keeper).await);
    for sid in &sessions {
        assert!(is_signed_in(&http, &restarted.base, sid).await);
    }
    drop(restarted);
    drop(server);
}

fn signal(server: &Server, name: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{name}"), &server.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
}

async fn exit_status(server: &mut Server, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = server.child.try_wait().expect("wait") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not exit in {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_stops_at_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("t.db");
    let http = client();
    let mut server = start(&db);
    wait_up(&http, &server.base).await;
    let names = register_users(&http, &server.base, &[]).await;
    let sign_ins: Vec<_> = names
        .iter()
        .map(|name| {
            let (http, base, name) = (http.clone(), server.base.clone(), name.clone());
            tokio::spawn(async move { sign_in(&http, &base, &name).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    signal(&server, "TERM");
    tokio::time::sleep(Duration::from_millis(20)).await;
    signal(&server, "TERM");
    let status = exit_status(&mut server, Duration::from_secs(5)).await;
    assert_eq!(status.code(), Some(1), "forced: not every request finished");
    let answered = futures::future::join_all(sign_ins)
        .await
        .into_iter()
        .filter(|r| matches!(r, Ok(Ok(_))))
        .count();
    assert!(answered < USERS, "it did not wait for all {USERS}");
}

fn trusting(pem: &[u8]) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(pem).expect("PEM"))
        .build()
        .expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_certificate_and_open_connections_stay() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let server = start_with(
        &dir.path().join("t.db"),
        &[
            ("TESSERA_TLS_CERT_PATH", cert.display().to_string()),
            ("TESSERA_TLS_KEY_PATH", key.display().to_string()),
            ("TESSERA_TLS_SELF_SIGNED", "true".to_owned()),
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cert.exists() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let old_pem = std::fs::read(&cert).expect("the server made a certificate");
    let old_client = trusting(&old_pem);
    wait_up(&old_client, &server.base).await;
    let health = format!("{}/health", server.base);

    std::fs::remove_file(&cert).expect("rm");
    assert!(
        server::tls::ensure_self_signed(&cert, &key, std::time::SystemTime::now())
            .expect("a new one")
    );
    let new_pem = std::fs::read(&cert).expect("new");
    signal(&server, "HUP");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut reloaded = false;
    while !reloaded && Instant::now() < deadline {
        reloaded = trusting(&new_pem).get(&health).send().await.is_ok();
        if !reloaded {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    assert!(reloaded, "new connections get the new certificate");
    assert!(
        trusting(&old_pem).get(&health).send().await.is_err(),
        "and not the old one"
    );
    // The connection opened before the reload is still served.
    let res = old_client.get(&health).send().await.expect("kept alive");
    assert_eq!(res.status(), 200);
}

/// The CPU time a process has used, in clock ticks (`/proc/PID/stat`:
/// utime + stime).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    // Fields after the command name, which is in parentheses.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 here.
    fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0)
}

/// A stopping server waits for the requests in flight without spinning:
/// each connection asks hyper once to finish, then waits (before, every
/// such connection kept a worker busy for the whole grace period, review
/// E12).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_server_waits_for_requests_in_flight_without_spinning() {
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let http = client();
    let mut server = start(&dir.path().join("spin.db"));
    wait_up(&http, &server.base).await;
    let address = server.base.trim_start_matches("http://").to_owned();
    // Two requests whose bodies have not all arrived: in flight.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = tokio::net::TcpStream::connect(&address)
            .await
            .expect("connect");
        stream
            .write_all(
                b"POST /api/login HTTP/1.1\r\nHost: x\r\n\
                  Content-Type: application/x-www-form-urlencoded\r\n\
                  Content-Length: 100\r\n\r\nusername=a",
            )
            .await
            .expect("a partial request");
        held.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    signal(&server, "TERM");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let pid = server.child.id();
    let before = cpu_ticks(pid);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let spent = cpu_ticks(pid) - before;
    // Waiting costs next to nothing; a spin costs ~100 ticks a second a core.
    assert!(spent < 30, "{spent} ticks of CPU in 2 s while stopping");
    assert!(
        server.child.try_wait().expect("wait").is_none(),
        "still serving the requests in flight (grace 20 s)"
    );
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.child.try_wait().expect("wait").is_none() {
        assert!(Instant::now() < deadline, "the server did not stop");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `[geoip] database` (issue 25) is read again on SIGHUP, even when the
/// once-a-second check sees nothing new (the same size and modification
/// time, as a copy that keeps times would leave it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_geoip_database() {
    use testkit::geoip::{database, FixturePlace, SYDNEY};
    let dir = tempfile::tempdir().expect("temp dir");
    let geoip = dir.path().join("city.mmdb");
    std::fs::write(&geoip, database(&[&SYDNEY])).expect("write");
    let server = start_with(
        &dir.path().join("t.db"),
        &[
            ("TESSERA_GEOIP_DATABASE", geoip.display().to_string()),
            ("TESSERA_PROXY_TRUSTED", "127.0.0.1".to_owned()),
        ],
    );
    let http = testkit::process::client();
    wait_up(&http, &server.base).await;
    let registered = http
        .post(format!("{}/api/register", server.base))
        .form(&[
            ("username", "hal"),
            ("password", testkit::PASSWORD),
            ("password_confirm", testkit::PASSWORD),
        ])
        .send()
        .await
        .expect("register");
    assert_eq!(registered.status(), 200);
    let res = http
        .post(format!("{}/api/login", server.base))
        .header("x-forwarded-for", SYDNEY.address)
        .form(&[("username", "hal"), ("password", testkit::PASSWORD)])
        .send()
        .await
        .expect("login");
    let sid = testkit::process::session_of(&res).expect("a session");
    let place = || async {
        let page = http
            .get(format!("{}/account/sessions", server.base))
            .header("cookie", format!("__Host-sid={sid}"))
            .send()
            .await
            .expect("GET")
            .text()
            .await
            .expect("page");
        ["Sydney, AU", "Sydnex, AU"]
            .into_iter()
            .find(|name| page.contains(name))
            .unwrap_or("no place")
    };
    assert_eq!(place().await, "Sydney, AU");

    let renamed = FixturePlace {
        city: Some("Sydnex"),
        ..SYDNEY
    };
    let old = std::fs::metadata(&geoip).expect("stat");
    let bytes = database(&[&renamed]);
    assert_eq!(bytes.len() as u64, old.len(), "the same size");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&geoip)
        .expect("open");
    std::io::Write::write_all(&mut &file, &bytes).expect("write");
    file.set_modified(old.modified().expect("mtime"))
        .expect("the old time");
    drop(file);
    tokio::time::sleep(app::ssr::geoip::RELOAD_CHECK * 3).await;
    assert_eq!(place().await, "Sydney, AU", "the check saw nothing new");

    signal(&server, "HUP");
    let deadline = Instant::now() + Duration::from_secs(5);
    while place().await != "Sydnex, AU" {
        assert!(Instant::now() < deadline, "SIGHUP did not reload it");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
