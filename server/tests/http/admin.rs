//! The admin area and the operator commands (issue 10).

use app::ssr::mfa::totp::TotpSecret;
use reqwest::StatusCode;

use crate::helpers::{location, new_sid, spawn_app, spawn_app_with, TestApp, PASSWORD};
use crate::mfa::MfaSteps;

/// Steps of these tests, on the shared app (`testkit::TestApp`).
pub(crate) trait AdminSteps {
    async fn elevated_admin(&self, username: &str) -> String;
    async fn step_up_with_code(&self, sid: &str, secret: &TotpSecret) -> String;
    async fn cli(&self, args: &[&str]) -> Result<String, String>;
}

impl AdminSteps for TestApp {
    /// Registers `username` with two-step verification on (the default
    /// `[mfa] require = "admins"`), makes it an admin, signs in again (the
    /// grant ended its sessions), steps up with a code and enters the admin
    /// area: the elevated session.
    async fn elevated_admin(&self, username: &str) -> String {
        let enrolled = self.enrol(username).await;
        self.cli(&["admin", "grant", username])
            .await
            .expect("granted");
        let sid = self.sign_in_with_code(username, &enrolled.secret).await;
        let sid = self.step_up_with_code(&sid, &enrolled.secret).await;
        let res = self.post_form("/api/admin_enter", &[], Some(&sid)).await;
        assert_eq!(res.status(), StatusCode::OK, "admin_enter");
        new_sid(&res)
    }

    async fn step_up_with_code(&self, sid: &str, secret: &TotpSecret) -> String {
        let code = self.next_code(secret);
        let res = self
            .post_form("/api/step_up", &[("secret", &code)], Some(sid))
            .await;
        assert_eq!(res.status(), StatusCode::OK, "step-up with a code");
        new_sid(&res)
    }

    async fn cli(&self, args: &[&str]) -> Result<String, String> {
        let mut settings = app::ssr::config::Settings::default();
        self.database.apply(&mut settings);
        settings.mfa.key_file = self.db_path.with_file_name("mfa.key");
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let done = server::cli::run(&settings, &args).await;
        // Another process's writes: heard through PostgreSQL's
        // notifications, as a running server hears them.
        self.settle().await;
        done
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_are_made_on_the_command_line_only_and_the_change_ends_their_sessions() {
    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("boss").await;
    let epoch = || async {
        let mut db = app.db().await;
        sqlx::query_scalar::<_, i64>("SELECT credential_epoch FROM users WHERE username = 'boss'")
            .fetch_one(&mut db)
            .await
            .expect("epoch")
    };
    let before = epoch().await;
    assert_eq!(
        app.cli(&["admin", "grant", "boss"]).await.as_deref(),
        Ok("boss is now an admin; their sessions have ended (they sign in again)")
    );
    // A privilege change (review E3): every session of the user ends, in
    // the database (a running server's cache learns it at the session's
    // next touch, as for every write from another process).
    assert_eq!(epoch().await, before + 1);
    assert_eq!(app.session_rows().await, 0, "the sessions were deleted");
    app.clock.advance(60);
    let _ = app.get("/account", Some(&sid)).await;
    assert!(!app.is_signed_in(&sid).await, "the old session is dead");
    // Under the default policy the new admin is held at enrolment.
    let res = app
        .post_form(
            "/api/login",
            &[("username", "boss"), ("password", PASSWORD)],
            None,
        )
        .await;
    assert_eq!(location(&res), "/account/security");

    assert!(app.cli(&["admin", "grant", "nobody"]).await.is_err());
    assert!(app.cli(&["admin", "promote", "boss"]).await.is_err());
    assert_eq!(
        app.cli(&["admin", "revoke", "boss"]).await.as_deref(),
        Ok("boss is no longer an admin; their sessions have ended (they sign in again)")
    );
}

/// An admin whose session predates the rights or the `[mfa] require`
/// policy (here: the flag set in the database, as a policy switch from
/// "none" leaves it) never enters the admin area with the password alone
/// (review E3).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_without_the_required_second_factor_is_refused_the_admin_area() {
    let app = spawn_app().await;
    let sid = app.registered_and_logged_in("legacy").await;
    let mut db = app.db().await;
    sqlx::query("UPDATE users SET is_admin = 1 WHERE username = 'legacy'")
        .execute(&mut db)
        .await
        .expect("flag");
    app.settle().await;
    let sid = app.step_up_with_password(&sid).await;
    let res = app.post_form("/api/admin_enter", &[], Some(&sid)).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body = res.text().await.expect("body");
    assert!(body.contains("needs two-step verification"), "{body}");

    // With `require = "none"` the same admin may enter.
    let relaxed = spawn_app_with(|s| s.mfa.require = app::ssr::config::MfaRequirement::None).await;
    let sid = relaxed.registered_and_logged_in("legacy").await;
    let mut db = relaxed.db().await;
    sqlx::query("UPDATE users SET is_admin = 1 WHERE username = 'legacy'")
        .execute(&mut db)
        .await
        .expect("flag");
    relaxed.settle().await;
    let sid = relaxed.step_up_with_password(&sid).await;
    let res = relaxed.post_form("/api/admin_enter", &[], Some(&sid)).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_admin_gets_403_from_every_admin_function() {
    let app = spawn_app().await;
    app.register("victim").await;
    let sid = app.registered_and_logged_in("plainuser").await;
    let sid = {
        let res = app
            .post_form("/api/step_up", &[("secret", PASSWORD)], Some(&sid))
            .await;
        new_sid(&res)
    };
    for (path, form) in [
        ("/api/admin_enter", vec![]),
        ("/api/admin_end_sessions", vec![("user_id", "1")]),
    ] {
        let res = app.post_form(path, &form, Some(&sid)).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(
            res.text().await.expect("body").contains("Forbidden"),
            "{path}"
        );
    }
    let page = app.page("/admin", &sid).await;
    assert!(page.contains("You do not have access"));
    assert!(!page.contains("victim"));
    // A visitor is sent to sign in.
    let res = app.get("/admin", None).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entering_the_admin_area_needs_a_step_up_rotates_the_id_and_lapses() {
    let app = spawn_app().await;
    let victim = app.registered_and_logged_in("target").await;
    let victim_elsewhere = app.login("target", None).await;
    let enrolled = app.enrol("root").await;
    app.cli(&["admin", "grant", "root"]).await.expect("granted");
    let sid = app.sign_in_with_code("root", &enrolled.secret).await;

    // An admin who has not stepped up: asked to, nothing listed.
    let res = app.post_form("/api/admin_enter", &[], Some(&sid)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.expect("body").contains("StepUpRequired"));
    let page = app.page("/admin", &sid).await;
    assert!(page.contains("Enter the admin area"));
    assert!(!page.contains("admin-users"));

    let stepped = app.step_up_with_code(&sid, &enrolled.secret).await;
    let res = app.post_form("/api/admin_enter", &[], Some(&stepped)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(location(&res), "/admin");
    let elevated = new_sid(&res);
    assert_ne!(elevated, stepped, "entering is a privilege change: new ID");
    assert!(!app.is_signed_in(&stepped).await, "the old ID is dead");

    // The list, searchable; wildcards are text.
    let users_table = |page: &str| {
        page.split("id=\"admin-users\"")
            .nth(1)
            .and_then(|rest| rest.split("</table>").next())
            .unwrap_or_default()
            .to_owned()
    };
    let page = app.page("/admin?q=targ", &elevated).await;
    let users = users_table(&page);
    assert!(users.contains("<td>target</td>"), "{page}");
    assert!(!users.contains("<td>root (admin)</td>"));
    let page = app.page("/admin?q=%25", &elevated).await;
    assert!(!users_table(&page).contains("<td>target</td>"));
    let res = app.get("/admin?page=abc&q=", Some(&elevated)).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "a malformed query is not an error"
    );

    // Ending all sessions of a user (ASVS 7.4.5).
    let target_id: i64 = {
        let mut db = app.db().await;
        sqlx::query_scalar("SELECT id FROM users WHERE username = 'target'")
            .fetch_one(&mut db)
            .await
            .expect("id")
    };
    let res = app
        .post_form(
            "/api/admin_end_sessions",
            &[("user_id", &target_id.to_string())],
            Some(&elevated),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(location(&res), "/admin?ended=2");
    assert!(!app.is_signed_in(&victim).await);
    assert!(!app.is_signed_in(&victim_elsewhere).await);

    // The elevation lapses with the step-up window (600 s by default).
    app.clock.advance(601);
    let res = app
        .post_form(
            "/api/admin_end_sessions",
            &[("user_id", &target_id.to_string())],
            Some(&elevated),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let page = app.page("/admin", &elevated).await;
    assert!(page.contains("Enter the admin area"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_area_shows_alerts_live_sessions_and_the_audit_log_and_ends_one_session() {
    let app = spawn_app().await;
    app.register("target").await;
    let target = app.login("target", None).await;
    let target_elsewhere = app.login("target", None).await;
    // A failed sign-in, for the log.
    let _ = app
        .post_form(
            "/api/login",
            &[("username", "target"), ("password", "wrong")],
            None,
        )
        .await;
    let elevated = app.elevated_admin("root").await;

    let page = app.page("/admin", &elevated).await;
    assert!(page.contains("id=\"admin-alerts\""));
    assert!(page.contains("id=\"admin-sessions\""));
    assert!(page.contains("End this session of target"), "{page}");
    assert!(!page.contains(&target) && !page.contains(&target_elsewhere));
    // The audit log, filtered by user and event.
    let page = app
        .page(
            "/admin?log_user=target&log_event=sign_in&log_hours=1",
            &elevated,
        )
        .await;
    let log = page.split("id=\"admin-events\"").nth(1).expect("the log");
    assert!(
        log.contains("data-event=\"sign_in\" class=\"event failed\""),
        "{log}"
    );
    assert!(
        log.contains("Sign-in failed: wrong username or password"),
        "{log}"
    );
    // The stored record stays one click away for the admin.
    assert!(
        log.contains("<summary>Record</summary><code>sign_in failure {\"reason\":\"invalid_credentials\"}</code>"),
        "{log}"
    );
    assert!(!log.contains("<td>root</td>"), "filtered by user: {log}");

    // End one of target's sessions, named by its handle.
    let target_id: i64 = {
        let mut db = app.db().await;
        sqlx::query_scalar("SELECT id FROM users WHERE username = 'target'")
            .fetch_one(&mut db)
            .await
            .expect("id")
    };
    let sessions = page
        .split("id=\"admin-sessions\"")
        .nth(1)
        .expect("the session list");
    let handle = sessions
        .split(&format!("name=\"user_id\" value=\"{target_id}\""))
        .nth(1)
        .and_then(|rest| rest.split("name=\"handle\" value=\"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("a handle in {sessions}"))
        .to_owned();
    let res = app
        .post_form(
            "/api/admin_revoke_session",
            &[("user_id", &target_id.to_string()), ("handle", &handle)],
            Some(&elevated),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let alive = [
        app.is_signed_in(&target).await,
        app.is_signed_in(&target_elsewhere).await,
    ];
    assert_eq!(
        alive.iter().filter(|a| **a).count(),
        1,
        "exactly one ended: {alive:?}"
    );
    // A non-admin cannot.
    let res = app
        .post_form(
            "/api/admin_revoke_session",
            &[("user_id", &target_id.to_string()), ("handle", &handle)],
            Some(&target_elsewhere),
        )
        .await;
    assert!(
        res.status() == StatusCode::FORBIDDEN
            || res.status() == StatusCode::SEE_OTHER
            || res.status() == StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_naming_no_such_user_or_a_huge_page_gets_a_clear_answer_never_a_500() {
    let app = spawn_app().await;
    let elevated = app.elevated_admin("root").await;

    for nobody in ["-1", "0", "4611686018427387904", "9223372036854775807"] {
        let res = app
            .post_form(
                "/api/admin_end_sessions",
                &[("user_id", nobody)],
                Some(&elevated),
            )
            .await;
        let status = res.status();
        let body = res.text().await.unwrap_or_default();
        assert_eq!(status, StatusCode::BAD_REQUEST, "user_id={nobody}: {body}");
        assert!(body.contains("no such user"), "user_id={nobody}: {body}");
    }
    // Not a number at all: the form cannot be read.
    let res = app
        .post_form(
            "/api/admin_end_sessions",
            &[("user_id", "99999999999999999999")],
            Some(&elevated),
        )
        .await;
    assert!(res.status().is_client_error(), "{}", res.status());

    for page in ["9223372036854775807", "-9223372036854775808", "0", "junk"] {
        let res = app
            .get(&format!("/admin?page={page}"), Some(&elevated))
            .await;
        assert!(
            res.status().is_success() || res.status().is_client_error(),
            "page={page}: {}",
            res.status()
        );
    }
    // The admin's own session was not touched by any of it.
    assert!(app.is_signed_in(&elevated).await);
}
