//! Transport rules (issue 13) checked at start-up.

use std::net::SocketAddr;
use std::sync::Arc;

use app::ssr::clock::ManualClock;
use app::ssr::config::Settings;
use leptos::config::LeptosOptions;
use server::startup::{Application, StartupError};

async fn build_on(address: &str, trusted: &str) -> Result<Application, StartupError> {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings::default();
    settings.database.path = dir.path().join("t.db");
    settings.mfa.key_file = dir.path().join("mfa.key");
    settings.proxy.trusted = trusted.to_owned();
    let options = LeptosOptions::builder()
        .output_name("tessera")
        .site_addr(address.parse::<SocketAddr>().expect("address"))
        .build();
    let built = Application::build(settings, options, Arc::new(ManualClock::starting_now())).await;
    drop(dir);
    built
}

#[tokio::test]
async fn plain_http_on_a_public_address_needs_a_trusted_proxy() {
    for public in ["0.0.0.0:0", "[::]:0"] {
        let refused = build_on(public, "").await.err().expect("refused");
        let message = refused.to_string();
        assert!(
            message.contains("refusing to serve plain HTTP") && message.contains("[proxy] trusted"),
            "{message}"
        );
    }
    assert!(
        build_on("127.0.0.1:0", "").await.is_ok(),
        "loopback is fine"
    );
    assert!(build_on("[::1]:0", "").await.is_ok(), "loopback is fine");
    assert!(
        build_on("0.0.0.0:0", "127.0.0.1/32").await.is_ok(),
        "behind a trusted TLS-terminating proxy"
    );
}
