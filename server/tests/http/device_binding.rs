//! Device-bound sessions (issue 26, W3C DBSC) from the outside, with a
//! scripted device (`testkit::dbsc`: a P-256 key, proofs as Chrome signs
//! them, header values unquoted as Chrome sends them): the offer on pages,
//! registration, the 403-challenge-proof refresh, the bound cookie on
//! every request, and the attacks: a stolen session cookie alone, a proof
//! by another key, a replayed or expired challenge, a key in a refresh
//! proof, `alg` none and HS256, another session's challenge, parallel
//! refreshes. On both engines (the suite runs on PostgreSQL too).

use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use testkit::dbsc::{bound_cookie, challenge, registration_offer, Device};

use crate::helpers::{spawn_app, TestApp};

/// What a bound browser holds: its session cookie, its bound cookie, its
/// binding's identifier, and the challenge it last cached.
struct Bound {
    sid: String,
    cookie: String,
    identifier: String,
}

trait Dbsc {
    async fn get_with(&self, path: &str, sid: &str, bound: Option<&str>) -> Response;
    async fn dbsc_register(&self, sid: &str, proof: &str) -> Response;
    async fn dbsc_refresh(&self, sid: &str, identifier: &str, proof: Option<&str>) -> Response;
    async fn offer(&self, sid: &str) -> String;
    async fn bind(&self, username: &str, device: &Device) -> Bound;
    async fn events(&self, event: &str) -> Vec<Value>;
}

impl Dbsc for TestApp {
    async fn get_with(&self, path: &str, sid: &str, bound: Option<&str>) -> Response {
        let cookies = match bound {
            Some(value) => format!("__Host-sid={sid}; __Host-tessera_dbsc={value}"),
            None => format!("__Host-sid={sid}"),
        };
        self.http
            .get(self.url(path))
            .header("cookie", cookies)
            .send()
            .await
            .expect("GET")
    }

    async fn dbsc_register(&self, sid: &str, proof: &str) -> Response {
        self.http
            .post(self.url("/dbsc/register"))
            .header("cookie", format!("__Host-sid={sid}"))
            .header("secure-session-response", proof)
            .send()
            .await
            .expect("POST")
    }

    async fn dbsc_refresh(&self, sid: &str, identifier: &str, proof: Option<&str>) -> Response {
        let mut req = self
            .http
            .post(self.url("/dbsc/refresh"))
            .header("cookie", format!("__Host-sid={sid}"))
            .header("sec-secure-session-id", identifier);
        if let Some(proof) = proof {
            req = req.header("secure-session-response", proof);
        }
        req.send().await.expect("POST")
    }

    /// The registration challenge a page of `sid` offers.
    async fn offer(&self, sid: &str) -> String {
        let res = self.get_with("/account", sid, None).await;
        assert_eq!(res.status(), StatusCode::OK);
        let (challenge, path) = registration_offer(res.headers()).expect("an offer");
        assert_eq!(path, "/dbsc/register");
        challenge
    }

    /// Signs `username` in and binds the session to `device`, past the
    /// grace after registration.
    async fn bind(&self, username: &str, device: &Device) -> Bound {
        let sid = self.registered_and_logged_in(username).await;
        let offered = self.offer(&sid).await;
        let res = self
            .dbsc_register(&sid, &device.registration_proof(&offered))
            .await;
        assert_eq!(res.status(), StatusCode::OK, "registration");
        let (cookie, _) = bound_cookie(res.headers()).expect("a bound cookie");
        let body: Value = res.json().await.expect("JSON");
        let identifier = body["session_identifier"].as_str().expect("id").to_owned();
        self.clock.advance(6);
        Bound {
            sid,
            cookie,
            identifier,
        }
    }

    async fn events(&self, event: &str) -> Vec<Value> {
        let mut db = self.db().await;
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT outcome, details FROM audit_events WHERE event = $1 ORDER BY id",
        )
        .bind(event)
        .fetch_all(&mut db)
        .await
        .expect("events");
        rows.into_iter()
            .map(|(outcome, details)| {
                let mut v: Value = serde_json::from_str(&details).expect("JSON");
                v["outcome"] = outcome.into();
                v
            })
            .collect()
    }
}

/// A refresh without a proof: 403 and the challenge to sign.
async fn challenged(app: &TestApp, bound: &Bound) -> String {
    let res = app.dbsc_refresh(&bound.sid, &bound.identifier, None).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let (challenge, id) = challenge(res.headers()).expect("a challenge");
    assert_eq!(id, bound.identifier);
    challenge
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_refresh_and_the_bound_cookie_on_every_request() {
    let app = spawn_app().await;
    let device = Device::new();
    let sid = app.registered_and_logged_in("alice").await;
    let offered = app.offer(&sid).await;
    // Quoted or not, as the spec writes it or as Chrome sends it.
    let res = app
        .dbsc_register(
            &sid,
            &format!("\"{}\"", device.registration_proof(&offered)),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let (cookie, max_age) = bound_cookie(res.headers()).expect("a bound cookie");
    assert_eq!(max_age, 600);
    let set_cookie = res.headers()["set-cookie"]
        .to_str()
        .expect("text")
        .to_owned();
    for attribute in ["Path=/", "Secure", "HttpOnly", "SameSite=Lax"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    let body: Value = res.json().await.expect("JSON");
    let identifier = body["session_identifier"].as_str().expect("id").to_owned();
    assert_ne!(identifier, sid, "never the session ID");
    assert_eq!(body["refresh_url"], "/dbsc/refresh");
    assert_eq!(body["scope"]["origin"], app.base);
    assert_eq!(body["scope"]["include_site"], false);
    assert_eq!(body["credentials"][0]["name"], "__Host-tessera_dbsc");
    assert!(body["scope"]["scope_specification"]
        .to_string()
        .contains("/pkg/"));
    // The offer is taken: once only, and pages no longer carry one.
    assert_eq!(
        app.dbsc_register(&sid, &device.registration_proof(&offered))
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
    let res = app.get_with("/account", &sid, Some(&cookie)).await;
    assert!(res.headers().get("secure-session-registration").is_none());
    let bound = Bound {
        sid,
        cookie,
        identifier,
    };

    // Within the grace after registration the session cookie alone still
    // works (requests already on their way); after it, not.
    assert_eq!(
        app.get_with("/account", &bound.sid, None).await.status(),
        StatusCode::OK
    );
    app.clock.advance(6);
    let res = app.get_with("/account", &bound.sid, None).await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "a visitor: sent to sign-in"
    );
    let res = app.get_with("/account", &bound.sid, Some("forged")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.get_with("/account", &bound.sid, Some(&bound.cookie))
            .await
            .status(),
        StatusCode::OK,
        "the session itself was not ended"
    );
    let missing = app.events("bound_cookie_missing").await;
    assert_eq!(
        missing.len(),
        1,
        "noted once a minute, not per request: {missing:?}"
    );

    // Refresh: 403 and a challenge, then the signed challenge: a new
    // cookie and the next challenge.
    let first = challenged(&app, &bound).await;
    let res = app
        .dbsc_refresh(
            &bound.sid,
            &bound.identifier,
            Some(&device.refresh_proof(&first)),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let (renewed, _) = bound_cookie(res.headers()).expect("a new cookie");
    assert_ne!(renewed, bound.cookie);
    let (next, id) = challenge(res.headers()).expect("the next challenge");
    assert_eq!(id, bound.identifier);
    let body: Value = res.json().await.expect("JSON");
    assert_eq!(body["session_identifier"], bound.identifier.as_str());
    assert_eq!(
        app.get_with("/account", &bound.sid, Some(&renewed))
            .await
            .status(),
        StatusCode::OK
    );
    // The cookie before stays good until it expires (Chrome's races).
    assert_eq!(
        app.get_with("/account", &bound.sid, Some(&bound.cookie))
            .await
            .status(),
        StatusCode::OK
    );
    // The cached next challenge makes the next refresh one step.
    let res = app
        .dbsc_refresh(
            &bound.sid,
            &bound.identifier,
            Some(&device.refresh_proof(&next)),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let (third, _) = bound_cookie(res.headers()).expect("a cookie");
    // Past its Max-Age a bound cookie no longer counts.
    app.clock.advance(600);
    assert_eq!(
        app.get_with("/account", &bound.sid, Some(&third))
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(app.events("device_bound").await[0]["outcome"], "success");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proof_by_another_key_ends_the_sign_in() {
    let app = spawn_app().await;
    let device = Device::new();
    let bound = app.bind("bob", &device).await;
    let thief = Device::new();
    let open = challenged(&app, &bound).await;
    let res = app
        .dbsc_refresh(
            &bound.sid,
            &bound.identifier,
            Some(&thief.refresh_proof(&open)),
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "terminal for the browser"
    );
    assert_eq!(
        app.get_with("/account", &bound.sid, Some(&bound.cookie))
            .await
            .status(),
        StatusCode::SEE_OTHER,
        "the sign-in was ended"
    );
    let ended = app.events("device_binding_ended").await;
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0]["reason"], "bad_proof");
    assert_eq!(ended[0]["sessions_ended"], 1);
}

/// Makes a forged refresh proof from a device and the open challenge.
type Forge = Box<dyn Fn(&Device, &str) -> String>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_proofs_are_terminal() {
    let app = spawn_app().await;
    let device = Device::new();
    let forgeries: [(&str, Forge); 4] = [
        (
            "a key of its own in a refresh proof",
            Box::new(|d: &Device, c: &str| d.registration_proof(c)),
        ),
        (
            "alg none",
            Box::new(|_: &Device, c: &str| {
                use base64::Engine as _;
                let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
                format!(
                    "{}.{}.",
                    b64.encode(r#"{"alg":"none","typ":"dbsc+jwt"}"#),
                    b64.encode(json!({ "jti": c }).to_string())
                )
            }),
        ),
        (
            "HS256 over the public key",
            Box::new(|d: &Device, c: &str| {
                d.sign(
                    &json!({ "alg": "HS256", "typ": "dbsc+jwt" }),
                    &json!({ "jti": c }),
                )
            }),
        ),
        (
            "another typ",
            Box::new(|d: &Device, c: &str| {
                d.sign(
                    &json!({ "alg": "ES256", "typ": "JWT" }),
                    &json!({ "jti": c }),
                )
            }),
        ),
    ];
    for (n, (what, forge)) in forgeries.iter().enumerate() {
        let bound = app.bind(&format!("forged{n}"), &device).await;
        let open = challenged(&app, &bound).await;
        let res = app
            .dbsc_refresh(&bound.sid, &bound.identifier, Some(&forge(&device, &open)))
            .await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(
            app.get_with("/account", &bound.sid, Some(&bound.cookie))
                .await
                .status(),
            StatusCode::SEE_OTHER,
            "{what}: the sign-in ended"
        );
    }
}

/// A Windows machine whose TPM 1.2 can only do RSA: the offer names RS256
/// too, and an RSA 2048 key registers and refreshes with RS256. The
/// algorithm is the key's: an ES256 header over the RSA key's signature
/// ends the sign-in like any forged proof, and a 1024-bit key is refused
/// at registration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rsa_device_binds_with_rs256_and_the_algorithm_is_the_keys() {
    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("tpm12").await;
    let page = app.get_with("/account", &sid, None).await;
    let offer = page.headers()["secure-session-registration"]
        .to_str()
        .expect("text")
        .to_owned();
    assert!(offer.starts_with("(ES256 RS256);"), "{offer}");
    let short = Device::rsa(1024);
    let offered = app.offer(&sid).await;
    let res = app
        .dbsc_register(&sid, &short.registration_proof(&offered))
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "a 1024-bit key");

    let device = Device::rsa(2048);
    let bound = app.bind("rsa", &device).await;
    let registered = app.events("device_bound").await;
    assert_eq!(registered.last().expect("an event")["algorithm"], "RS256");
    assert_eq!(
        app.get_with("/account", &bound.sid, None).await.status(),
        StatusCode::SEE_OTHER,
        "bound: the session cookie alone is a visitor's"
    );
    let open = challenged(&app, &bound).await;
    let res = app
        .dbsc_refresh(
            &bound.sid,
            &bound.identifier,
            Some(&device.refresh_proof(&open)),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK, "an RS256 refresh");
    let (renewed, _) = bound_cookie(res.headers()).expect("a new cookie");
    assert_eq!(
        app.get_with("/account", &bound.sid, Some(&renewed))
            .await
            .status(),
        StatusCode::OK
    );
    let open = challenged(&app, &bound).await;
    let confused = device.sign(
        &json!({ "alg": "ES256", "typ": "dbsc+jwt" }),
        &json!({ "jti": open }),
    );
    let res = app
        .dbsc_refresh(&bound.sid, &bound.identifier, Some(&confused))
        .await;
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "ES256 over an RSA key"
    );
    assert_eq!(
        app.get_with("/account", &bound.sid, Some(&renewed))
            .await
            .status(),
        StatusCode::SEE_OTHER,
        "the sign-in ended"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_and_expired_challenges_get_a_new_challenge_not_a_cookie() {
    let app = spawn_app().await;
    let device = Device::new();
    let bound = app.bind("carol", &device).await;
    let c1 = challenged(&app, &bound).await;
    let replayed = device.refresh_proof(&c1);
    let res = app
        .dbsc_refresh(&bound.sid, &bound.identifier, Some(&replayed))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let (c2, _) = challenge(res.headers()).expect("next");
    let res = app
        .dbsc_refresh(
            &bound.sid,
            &bound.identifier,
            Some(&device.refresh_proof(&c2)),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    // c1 is now two behind: its proof, replayed, buys nothing.
    let res = app
        .dbsc_refresh(&bound.sid, &bound.identifier, Some(&replayed))
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(bound_cookie(res.headers()).is_none());
    let (c4, _) = challenge(res.headers()).expect("a new challenge");
    // A challenge older than its time limit (twice the cookie's life).
    app.clock.advance(1201);
    let res = app
        .dbsc_refresh(
            &bound.sid,
            &bound.identifier,
            Some(&device.refresh_proof(&c4)),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(bound_cookie(res.headers()).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_for_another_sessions_challenge_is_refused() {
    let app = spawn_app().await;
    let device = Device::new();
    let alice = app.registered_and_logged_in("dora").await;
    let mallory = app.registered_and_logged_in("mallory").await;
    let alices_offer = app.offer(&alice).await;
    let res = app
        .dbsc_register(&mallory, &device.registration_proof(&alices_offer))
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // Nor without a session, nor with a proof signed by a key other than
    // the one it names.
    let res = app
        .http
        .post(app.url("/dbsc/register"))
        .header(
            "secure-session-response",
            device.registration_proof(&alices_offer),
        )
        .send()
        .await
        .expect("POST");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let other = Device::new();
    let header = json!({ "alg": "ES256", "typ": "dbsc+jwt", "jwk": other.jwk() });
    let mismatched = device.sign(&header, &json!({ "jti": alices_offer }));
    assert_eq!(
        app.dbsc_register(&alice, &mismatched).await.status(),
        StatusCode::BAD_REQUEST
    );
    // The offer is still open for alice's own device.
    let res = app
        .dbsc_register(&alice, &device.registration_proof(&alices_offer))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let refused = app.events("device_bound").await;
    let reasons: Vec<&str> = refused
        .iter()
        .filter(|e| e["outcome"] == "failure")
        .filter_map(|e| e["reason"].as_str())
        .collect();
    assert_eq!(reasons, ["no_open_offer", "bad_proof"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_refreshes_with_one_challenge_renew_at_most_twice() {
    let app = spawn_app().await;
    let device = Device::new();
    let bound = app.bind("erin", &device).await;
    let open = challenged(&app, &bound).await;
    let proof = device.refresh_proof(&open);
    let answers = futures::future::join_all(
        (0..8).map(|_| app.dbsc_refresh(&bound.sid, &bound.identifier, Some(&proof))),
    )
    .await;
    let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    let renewed = statuses.iter().filter(|s| **s == 200).count();
    assert!((1..=2).contains(&renewed), "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 403),
        "{statuses:?}"
    );
    // And the binding goes on.
    let next = challenged(&app, &bound).await;
    let res = app
        .dbsc_refresh(
            &bound.sid,
            &bound.identifier,
            Some(&device.refresh_proof(&next)),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_identifier_ends_only_the_browsers_binding() {
    let app = spawn_app().await;
    let device = Device::new();
    let bound = app.bind("fred", &device).await;
    let res = app.dbsc_refresh(&bound.sid, "no-such-binding", None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.get_with("/account", &bound.sid, Some(&bound.cookie))
            .await
            .status(),
        StatusCode::OK
    );
    // Another sign-in's identifier is not this session's either.
    let other = app.bind("gina", &Device::new()).await;
    let res = app.dbsc_refresh(&bound.sid, &other.identifier, None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_out_ends_the_binding() {
    let app = spawn_app().await;
    let device = Device::new();
    let bound = app.bind("hana", &device).await;
    let res = app
        .http
        .post(app.url("/api/logout"))
        .header(
            "cookie",
            format!(
                "__Host-sid={}; __Host-tessera_dbsc={}",
                bound.sid, bound.cookie
            ),
        )
        .send()
        .await
        .expect("POST");
    assert_eq!(res.status(), StatusCode::OK);
    let mut db = app.db().await;
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM device_bindings")
        .fetch_one(&mut db)
        .await
        .expect("count");
    assert_eq!(left, 0);
    let res = app.dbsc_refresh(&bound.sid, &bound.identifier, None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_up_keeps_the_binding() {
    let app = spawn_app().await;
    let device = Device::new();
    let bound = app.bind("ivan", &device).await;
    let res = app
        .http
        .post(app.url("/api/step_up"))
        .header(
            "cookie",
            format!(
                "__Host-sid={}; __Host-tessera_dbsc={}",
                bound.sid, bound.cookie
            ),
        )
        .form(&[("secret", crate::helpers::PASSWORD)])
        .send()
        .await
        .expect("POST");
    assert_eq!(res.status(), StatusCode::OK);
    let rotated = crate::helpers::new_sid(&res);
    assert_ne!(rotated, bound.sid);
    assert_eq!(
        app.get_with("/account", &rotated, None).await.status(),
        StatusCode::SEE_OTHER,
        "still bound after the rotation"
    );
    assert_eq!(
        app.get_with("/account", &rotated, Some(&bound.cookie))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sessions_page_and_admin_show_which_sessions_are_bound() {
    use crate::admin::AdminSteps;
    let app = spawn_app().await;
    let bound = app.bind("jack", &Device::new()).await;
    let other = app.login("jack", None).await;
    let page = app
        .get_with("/account/sessions", &bound.sid, Some(&bound.cookie))
        .await
        .text()
        .await
        .expect("page");
    assert_eq!(
        page.matches("class=\"badge device-bound\"").count(),
        1,
        "{page}"
    );
    let admin = app.elevated_admin("root").await;
    let console = app.page("/admin", &admin).await;
    assert!(
        console.contains("Device-bound: 1 of 3 signed-in sessions (33%)"),
        "{console}"
    );
    let _ = other;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_up_offers_again_when_the_first_offer_lapsed() {
    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("kate").await;
    app.offer(&sid).await;
    // The offer lives twice the bound cookie's life (1,200 s).
    app.clock.advance(1201);
    let res = app.get_with("/account", &sid, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("secure-session-registration").is_none());
    let rotated = app.step_up_with_password(&sid).await;
    let fresh = app.offer(&rotated).await;
    let res = app
        .dbsc_register(&rotated, &Device::new().registration_proof(&fresh))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clean_up_deletes_bindings_whose_sessions_are_gone() {
    use app::ssr::session::SessionBackend;
    let app = spawn_app().await;
    let bound = app.bind("liam", &Device::new()).await;
    let mut db = app.db().await;
    let owner: i64 = sqlx::query_scalar("SELECT user_id FROM device_bindings")
        .fetch_one(&mut db)
        .await
        .expect("a binding");
    app.state
        .sessions
        .delete_all_for_user(owner)
        .await
        .expect("ended");
    server::maintenance::clean_once(&app.state).await;
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM device_bindings")
        .fetch_one(&mut db)
        .await
        .expect("count");
    assert_eq!(left, 0);
    assert_eq!(
        app.dbsc_refresh(&bound.sid, &bound.identifier, None)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_up_demands_a_fresh_proof_of_possession() {
    let app = spawn_app().await;
    let device = Device::new();
    let bound = app.bind("mia", &device).await;
    let step_up = |bound_cookie: String| {
        let app = &app;
        let sid = bound.sid.clone();
        async move {
            app.http
                .post(app.url("/api/step_up"))
                .header(
                    "cookie",
                    format!("__Host-sid={sid}; __Host-tessera_dbsc={bound_cookie}"),
                )
                .form(&[("secret", crate::helpers::PASSWORD)])
                .send()
                .await
                .expect("POST")
        }
    };
    // The bound cookie is 31 s old: prove it again first.
    app.clock.advance(25);
    let res = step_up(bound.cookie.clone()).await;
    assert_eq!(res.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(crate::helpers::location(&res), "/api/step_up");
    let expired = res.headers()["set-cookie"]
        .to_str()
        .expect("text")
        .to_owned();
    assert!(
        expired.starts_with("__Host-tessera_dbsc=; Max-Age=0"),
        "{expired}"
    );
    // The device refreshes (as Chrome does before following) and the
    // step-up goes through.
    let open = challenged(&app, &bound).await;
    let res = app
        .dbsc_refresh(
            &bound.sid,
            &bound.identifier,
            Some(&device.refresh_proof(&open)),
        )
        .await;
    let (fresh, _) = bound_cookie(res.headers()).expect("a new cookie");
    let res = step_up(fresh).await;
    assert_eq!(res.status(), StatusCode::OK);
    // One renewal so far: written to the log (the first and every 50th).
    let renewals = app.events("device_refreshed").await;
    assert_eq!(renewals.len(), 1);
    assert_eq!(renewals[0]["renewals"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_dbsc_off_nothing_is_offered_and_the_endpoints_are_gone() {
    let app = crate::helpers::spawn_app_with(|s| s.dbsc.enabled = false).await;
    let sid = app.registered_and_logged_in("noah").await;
    let res = app.get_with("/account", &sid, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("secure-session-registration").is_none());
    let proof = Device::new().registration_proof("anything");
    assert_eq!(
        app.dbsc_register(&sid, &proof).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.dbsc_refresh(&sid, "anything", None).await.status(),
        StatusCode::NOT_FOUND
    );
}
