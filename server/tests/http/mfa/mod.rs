//! Two-step verification and step-up (issue 10), from the outside: the
//! test reads the secret off the enrolment page, as a person's app would
//! scan it, and computes codes with the test's clock.

mod credentials;
mod enrolment;
mod key;
mod recovery_codes;
mod sign_in;
mod step_up;

use app::ssr::mfa::totp::TotpSecret;
use reqwest::{Response, StatusCode};

use crate::helpers::{location, new_sid, spawn_app, spawn_app_with, TestApp, PASSWORD};

async fn error_of(res: Response) -> (StatusCode, String) {
    let status = res.status();
    (status, res.text().await.unwrap_or_default())
}

fn between<'a>(html: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = html.find(start)? + start.len();
    let to = html[from..].find(end)? + from;
    Some(&html[from..to])
}

pub(crate) struct Enrolled {
    pub sid: String,
    pub secret: TotpSecret,
    pub codes: Vec<String>,
}

/// Steps of these tests, on the shared app (`testkit::TestApp`).
pub(crate) trait MfaSteps {
    fn next_code(&self, secret: &TotpSecret) -> String;
    async fn enrol(&self, username: &str) -> Enrolled;
    async fn enrol_session(&self, sid: &str) -> Enrolled;
    async fn password_step(&self, username: &str) -> String;
    async fn send_code(&self, sid: &str, method: &str, code: &str) -> Response;
    async fn sign_in_with_code(&self, username: &str, secret: &TotpSecret) -> String;
    async fn totp_rows(&self) -> i64;
}

impl MfaSteps for TestApp {
    /// The current code of `secret` after moving the clock to a fresh
    /// 30-second step (each step is accepted once).
    fn next_code(&self, secret: &TotpSecret) -> String {
        use app::ssr::clock::Clock;
        self.clock.advance(30);
        secret
            .code_at_step(self.clock.now().div_euclid(30))
            .expect("a code")
    }

    async fn enrol(&self, username: &str) -> Enrolled {
        let sid = self.registered_and_logged_in(username).await;
        let sid = self.step_up_with_password(&sid).await;
        self.enrol_session(&sid).await
    }

    /// Turns MFA on from `sid`, a session that stepped up.
    async fn enrol_session(&self, sid: &str) -> Enrolled {
        let res = self.post_form("/api/mfa_begin", &[], Some(sid)).await;
        assert_eq!(res.status(), StatusCode::OK, "mfa_begin");
        let page = self.page("/account/security", sid).await;
        assert!(page.contains("<svg"), "the QR code is inline SVG");
        let shown = between(&page, "id=\"totp-secret\">", "<").expect("the secret is shown");
        let bytes = totp_rs::Secret::Encoded(shown.replace(' ', ""))
            .to_bytes()
            .expect("base32");
        let secret = TotpSecret::from_bytes(bytes).expect("20 bytes");
        let code = self.next_code(&secret);
        let res = self
            .post_form("/api/mfa_confirm", &[("code", &code)], Some(sid))
            .await;
        assert_eq!(res.status(), StatusCode::OK, "mfa_confirm");
        // The other sessions ended; this one moved to a new ID.
        let sid = new_sid(&res);
        let page = self.page("/account/security", &sid).await;
        // The secret is never sent to the browser again once MFA is on.
        assert!(!page.contains("totp-secret"));
        assert!(!page.contains(&shown.replace(' ', "")[..16]));
        let list = between(&page, "id=\"recovery-codes\"", "</ol>").expect("codes shown");
        let codes: Vec<String> = list
            .split("<code>")
            .skip(1)
            .filter_map(|part| part.split("</code>").next())
            .map(str::to_owned)
            .collect();
        assert_eq!(codes.len(), 10);
        let res = self
            .post_form("/api/recovery_codes_saved", &[], Some(&sid))
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        Enrolled { sid, secret, codes }
    }

    /// Password step of a sign-in; the pending session's cookie.
    async fn password_step(&self, username: &str) -> String {
        let res = self
            .post_form(
                "/api/login",
                &[("username", username), ("password", PASSWORD)],
                None,
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(location(&res), "/login/verify");
        new_sid(&res)
    }

    async fn send_code(&self, sid: &str, method: &str, code: &str) -> Response {
        self.post_form(
            "/api/verify_code",
            &[("code", code), ("method", method)],
            Some(sid),
        )
        .await
    }

    async fn sign_in_with_code(&self, username: &str, secret: &TotpSecret) -> String {
        let pending = self.password_step(username).await;
        let code = self.next_code(secret);
        let res = self.send_code(&pending, "totp", &code).await;
        assert_eq!(res.status(), StatusCode::OK, "code accepted");
        new_sid(&res)
    }

    async fn totp_rows(&self) -> i64 {
        let mut db = self.db().await;
        sqlx::query_scalar("SELECT COUNT(*) FROM totp_factors")
            .fetch_one(&mut db)
            .await
            .expect("count")
    }
}
