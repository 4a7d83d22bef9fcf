//! `[log] format = "json"` (issue 12): the real binary, started as an
//! operator would start it, writes every log line as one JSON object.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn every_log_line_is_one_json_object() {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let data = tempfile::tempdir().expect("temp dir");
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut server = Command::new(env!("CARGO_BIN_EXE_server"))
        .current_dir(root)
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("LEPTOS_OUTPUT_NAME", "tessera")
        .env("TESSERA_DATABASE_PATH", data.path().join("t.db"))
        .env("TESSERA_LOG_FORMAT", "json")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the server starts");
    let stdout = server.stdout.take().expect("stdout");
    let lines = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });

    // Up, then a request that logs (a failed sign-in is an info event).
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut up = false;
    while !up && Instant::now() < deadline {
        up = request(port, "GET /health HTTP/1.1\r\n", "").is_some_and(|r| r.contains(" 200 "));
        if !up {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    assert!(up, "the server answered /health");
    let form = "username=nobody&password=wrong+horse+battery+1";
    let answer = request(
        port,
        "POST /api/login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n",
        form,
    )
    .unwrap_or_default();
    assert!(answer.contains(" 401 "), "{answer}");
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let finished = Instant::now() + Duration::from_secs(10);
    while server.try_wait().ok().flatten().is_none() && Instant::now() < finished {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = server.kill();
    let lines = lines.join().expect("reader");
    assert!(
        lines.iter().any(|l| l.contains("Tessera is running")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("sign-in failed")),
        "{lines:?}"
    );
    for line in &lines {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(value.get("level").is_some(), "{line}");
        assert!(value.get("timestamp").is_some(), "{line}");
    }
}

/// One HTTP/1.1 request on a fresh connection; the whole answer.
fn request(port: u16, head: &str, body: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let message = format!(
        "{head}Host: 127.0.0.1:{port}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(message.as_bytes()).ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    Some(answer)
}
