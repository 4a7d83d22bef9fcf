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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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
    // A "proxy" list that trusts every address is no proxy list (E16).
    let everyone = build_on("0.0.0.0:0", "0.0.0.0/0")
        .await
        .err()
        .expect("refused");
    assert!(
        everyone.to_string().contains("trusts every address"),
        "{everyone}"
    );
    assert!(build_on("[::1]:0", "").await.is_ok(), "loopback is fine");
    assert!(
        build_on("0.0.0.0:0", "127.0.0.1/32").await.is_ok(),
        "behind a trusted TLS-terminating proxy"
    );
}

struct TlsApp {
    https: String,
    redirect: std::net::SocketAddr,
    certificates: Arc<server::tls::Certificates>,
    cert_path: std::path::PathBuf,
    key_path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

async fn spawn_tls_app() -> TlsApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings::default();
    settings.database.path = dir.path().join("t.db");
    settings.mfa.key_file = dir.path().join("mfa.key");
    settings.tls.cert_path = dir.path().join("tls/cert.pem");
    settings.tls.key_path = dir.path().join("tls/key.pem");
    settings.tls.self_signed = true;
    settings.tls.redirect_addr = "127.0.0.1:0".to_owned();
    let (cert_path, key_path) = (
        settings.tls.cert_path.clone(),
        settings.tls.key_path.clone(),
    );
    let options = LeptosOptions::builder()
        .output_name("tessera")
        .site_addr(SocketAddr::from(([127, 0, 0, 1], 0)))
        .build();
    let app = Application::build(settings, options, Arc::new(ManualClock::starting_now()))
        .await
        .expect("builds with TLS");
    assert_eq!(app.url(), format!("https://{}", app.address()));
    let https = format!("https://localhost:{}", app.address().port());
    let redirect = app.redirect_address().expect("a redirect listener");
    let certificates = app.certificates().expect("TLS on");
    tokio::spawn(app.run_until_stopped());
    TlsApp {
        https,
        redirect,
        certificates,
        cert_path,
        key_path,
        _dir: dir,
    }
}

/// A client that trusts only the certificate in `pem`.
fn trusting(pem: &[u8]) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(pem).expect("PEM"))
        .build()
        .expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_tls_pages_come_over_https_with_hsts_and_plain_http_only_redirects() {
    let app = spawn_tls_app().await;
    let http = trusting(&std::fs::read(&app.cert_path).expect("cert"));
    let page = http
        .get(format!("{}/about", app.https))
        .send()
        .await
        .expect("HTTPS");
    assert_eq!(page.status(), 200);
    // ALPN picks HTTP/2, as with a browser: no `Host` header, only
    // `:authority` (the cross-site check below reads it, E15).
    assert_eq!(page.version(), reqwest::Version::HTTP_2);
    assert_eq!(
        page.headers()["strict-transport-security"],
        "max-age=63072000; includeSubDomains"
    );
    // A sign-in over TLS: the https Origin is this server's own, and a
    // browser without Fetch Metadata (only `Origin`) is not refused.
    let form = [
        ("username", "alice"),
        ("password", "Quartz ladle orbit 97 yawn"),
        ("password_confirm", "Quartz ladle orbit 97 yawn"),
    ];
    let registered = http
        .post(format!("{}/api/register", app.https))
        .header("origin", &app.https)
        .form(&form)
        .send()
        .await
        .expect("register");
    assert!(registered.status().is_success(), "{}", registered.status());
    let signed_in = http
        .post(format!("{}/api/login", app.https))
        .header("origin", &app.https)
        .form(&form[..2])
        .send()
        .await
        .expect("login");
    assert_eq!(signed_in.status(), 200);
    let cookie = signed_in.headers()["set-cookie"].to_str().expect("ASCII");
    assert!(cookie.starts_with("__Host-sid=") && cookie.contains("Secure"));
    // Over h2 too, another site's Origin is still refused.
    let forged = http
        .post(format!("{}/api/login", app.https))
        .header("origin", "https://elsewhere.example")
        .form(&form[..2])
        .send()
        .await
        .expect("forged login");
    assert_eq!(forged.version(), reqwest::Version::HTTP_2);
    assert_eq!(forged.status(), 403);

    // The plain-HTTP listener answers nothing but a redirect.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    for method in [reqwest::Method::GET, reqwest::Method::POST] {
        let res = plain
            .request(
                method.clone(),
                format!("http://127.0.0.1:{}/account?tab=1", app.redirect.port()),
            )
            .send()
            .await
            .expect("HTTP");
        assert_eq!(res.status(), 308, "{method}");
        let https_port = app.https.rsplit(':').next().unwrap_or_default();
        assert_eq!(
            res.headers()["location"],
            format!("https://127.0.0.1:{https_port}/account?tab=1").as_str()
        );
        assert!(res.headers().get("set-cookie").is_none());
        assert!(res.headers().get("strict-transport-security").is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reloaded_certificate_serves_new_connections() {
    let app = spawn_tls_app().await;
    let old_pem = std::fs::read(&app.cert_path).expect("cert");
    // A new certificate and key in the same files, then the reload SIGHUP
    // triggers.
    std::fs::remove_file(&app.cert_path).expect("rm");
    assert!(server::tls::ensure_self_signed(
        &app.cert_path,
        &app.key_path,
        std::time::SystemTime::now()
    )
    .expect("new"));
    let new_pem = std::fs::read(&app.cert_path).expect("cert");
    assert_ne!(old_pem, new_pem);
    app.certificates.reload().expect("reloads");
    let url = format!("{}/health", app.https);
    let res = trusting(&new_pem).get(&url).send().await.expect("new cert");
    assert_eq!(res.status(), 200);
    assert!(
        trusting(&old_pem).get(&url).send().await.is_err(),
        "the old certificate is no longer served"
    );
    // A broken file keeps the certificate in use.
    std::fs::write(&app.cert_path, "garbage").expect("write");
    assert!(app.certificates.reload().is_err());
    let res = trusting(&new_pem).get(&url).send().await.expect("still");
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_tls_a_public_address_is_allowed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings::default();
    settings.database.path = dir.path().join("t.db");
    settings.mfa.key_file = dir.path().join("mfa.key");
    settings.tls.cert_path = dir.path().join("c.pem");
    settings.tls.key_path = dir.path().join("k.pem");
    settings.tls.self_signed = true;
    let options = LeptosOptions::builder()
        .output_name("tessera")
        .site_addr("0.0.0.0:0".parse::<SocketAddr>().expect("address"))
        .build();
    assert!(
        Application::build(settings, options, Arc::new(ManualClock::starting_now()))
            .await
            .is_ok()
    );
}
