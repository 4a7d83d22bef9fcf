//! Clients that go away mid-request never make the server panic.
//!
//! Its own test binary, because it installs the process-wide panic hook
//! to count panics on any thread (the server's workers included). Without
//! `http::completion::run_to_completion`, pages whose client disconnected during the
//! render panicked in Leptos' spawned tasks ("reactive value ... disposed").

use testkit as helpers;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use helpers::spawn_app;
use reqwest::StatusCode;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

static PANICS: AtomicUsize = AtomicUsize::new(0);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborted_page_requests_cause_no_panic() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        report(info);
    }));

    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("alice").await;
    let address = app.base.trim_start_matches("http://").to_owned();
    // The browser the session was made in (another one would revoke it).
    let request = format!(
        "GET /account HTTP/1.1\r\nHost: {address}\r\nCookie: __Host-sid={sid}\r\n\
         User-Agent: {}\r\n\r\n",
        helpers::CHROME_ON_LINUX
    );

    // 8 clients x 150 requests, each closed with a reset after a varying
    // number of scheduler turns: some before the server read it, most
    // somewhere inside the render.
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let (address, request) = (address.clone(), request.clone());
            tokio::spawn(async move {
                for i in 0..150 {
                    let Ok(mut stream) = TcpStream::connect(&address).await else {
                        continue;
                    };
                    let _ = stream.write_all(request.as_bytes()).await;
                    for _ in 0..(i % 40) {
                        tokio::task::yield_now().await;
                    }
                    let _ = stream.set_zero_linger();
                    drop(stream);
                }
            })
        })
        .collect();
    for client in clients {
        client.await.expect("client task");
    }

    // The server still serves, and the renders that were under way have
    // had time to end.
    for _ in 0..5 {
        assert_eq!(
            app.get("/account", Some(&sid)).await.status(),
            StatusCode::OK
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "the server panicked");
}
