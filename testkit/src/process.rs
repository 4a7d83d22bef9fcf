//! The real server binary as a process, for the tests that signal, kill
//! and restart it (`shutdown.rs`, `faults.rs`): started on a free port
//! with its SQLite file, and the few requests they make of it.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::PASSWORD;

pub struct Server {
    pub child: Child,
    pub base: String,
}

/// A failed assertion must not leave a server running.
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `bin` (the test's `env!("CARGO_BIN_EXE_server")`) on `db`, with
/// `extra` environment variables.
pub fn start_with(bin: &str, db: &Path, extra: &[(&str, String)]) -> Server {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(bin)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("LEPTOS_OUTPUT_NAME", "tessera")
        .env("TESSERA_DATABASE_PATH", db)
        .env("TESSERA_MFA_KEY_FILE", db.with_extension("key"))
        .env("TESSERA_LOGIN_MAX_REGISTRATIONS_PER_ADDRESS", "1000")
        .env("TESSERA_LOGIN_MAX_FAILURES_PER_ADDRESS", "1000")
        .env("TESSERA_SERVER_SHUTDOWN_GRACE_SECS", "20")
        .env("RUST_LOG", "warn")
        .envs(extra.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .spawn()
        .expect("the server starts");
    let tls = extra.iter().any(|(k, _)| *k == "TESSERA_TLS_CERT_PATH");
    Server {
        child,
        base: if tls {
            format!("https://localhost:{port}")
        } else {
            format!("http://127.0.0.1:{port}")
        },
    }
}

pub async fn wait_up(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(res) = http.get(format!("{base}/health")).send().await {
            if res.status() == 200 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server did not come up");
}

pub fn session_of(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("__Host-sid="))
        .and_then(|rest| rest.split(';').next())
        .filter(|sid| !sid.is_empty())
        .map(str::to_owned)
}

pub async fn sign_in(http: &reqwest::Client, base: &str, name: &str) -> Result<String, String> {
    let res = http
        .post(format!("{base}/api/login"))
        .form(&[("username", name), ("password", PASSWORD)])
        .send()
        .await
        .map_err(|e| format!("{name}: lost: {e}"))?;
    if res.status() != 200 {
        return Err(format!("{name}: {}", res.status()));
    }
    session_of(&res).ok_or_else(|| format!("{name}: no session cookie"))
}

/// `/account` renders (200) for a live session and redirects (303) to
/// sign-in otherwise.
pub async fn is_signed_in(http: &reqwest::Client, base: &str, sid: &str) -> bool {
    let res = http
        .get(format!("{base}/account"))
        .header("cookie", format!("__Host-sid={sid}"))
        .send()
        .await
        .expect("GET");
    res.status() == 200
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}
