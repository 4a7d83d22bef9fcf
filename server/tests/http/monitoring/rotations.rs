//! Every rotation of a signed-in session's ID keeps where it was first
//! used and records where it is used now (issue 27: after entering the
//! admin area, `/admin` listed the session as "Unknown browser", IP
//! "unknown", because the new row was written without them).

use super::*;
use crate::admin::AdminSteps;
use crate::helpers::TestApp;
use crate::mfa::MfaSteps;

/// The user's one live session's client columns: ip and user agent,
/// first and last.
async fn client_columns(app: &TestApp, username: &str) -> Vec<[Option<String>; 4]> {
    let mut db = app.db().await;
    sqlx::query(
        "SELECT s.ip_first, s.ip_last, s.user_agent_first, s.user_agent_last \
         FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.username = $1",
    )
    .bind(username)
    .fetch_all(&mut db)
    .await
    .expect("sessions")
    .into_iter()
    .map(|row| [row.get(0), row.get(1), row.get(2), row.get(3)])
    .collect()
}

/// After `what`, the session `sid` is the user's only one, names its
/// browser and address on the sessions page, and its row holds them.
async fn assert_carried(app: &TestApp, username: &str, sid: &str, what: &str) {
    let columns = client_columns(app, username).await;
    assert_eq!(columns.len(), 1, "{what}: one live session");
    let [ip_first, ip_last, agent_first, agent_last] = &columns[0];
    assert_eq!(ip_first.as_deref(), Some("127.0.0.1"), "{what}: first IP");
    assert_eq!(ip_last.as_deref(), Some("127.0.0.1"), "{what}: last IP");
    assert!(
        agent_first
            .as_deref()
            .is_some_and(|ua| ua.contains("Chrome/131")),
        "{what}: first user agent {agent_first:?}"
    );
    assert!(
        agent_last
            .as_deref()
            .is_some_and(|ua| ua.contains("Chrome/")),
        "{what}: last user agent {agent_last:?}"
    );
    let page = app.page("/account/sessions", sid).await;
    let row = between(&page, "class=\"session\"", "</li>");
    assert_eq!(row.len(), 1, "{what}: {page}");
    assert!(row[0].contains("Chrome 1"), "{what}: {}", row[0]);
    assert!(row[0].contains("127.0.0.1"), "{what}: {}", row[0]);
    assert!(!row[0].contains("Unknown browser"), "{what}: {}", row[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rotation_keeps_the_sessions_browser_and_address() {
    let app = spawn_app().await;

    // Step-up with the password, sent by an updated browser (Chrome 131 to
    // 132, the same browser and system): the first user agent stays 131,
    // the last becomes 132.
    let sid = app.registered_and_logged_in("alice").await;
    let res = app
        .http
        .post(app.url("/api/step_up"))
        .header("cookie", format!("__Host-sid={sid}"))
        .header("user-agent", CHROME_132_ON_LINUX)
        .form(&[("secret", PASSWORD)])
        .send()
        .await
        .expect("step-up");
    assert_eq!(res.status(), StatusCode::OK);
    let sid = new_sid(&res);
    let columns = client_columns(&app, "alice").await;
    assert!(columns[0][2]
        .as_deref()
        .is_some_and(|ua| ua.contains("Chrome/131")));
    assert!(columns[0][3]
        .as_deref()
        .is_some_and(|ua| ua.contains("Chrome/132")));
    assert_carried(&app, "alice", &sid, "step-up with the password").await;

    // Two-step verification on (a credential change), a step-up with a
    // code, the password changed, two-step verification off.
    let enrolled = app.enrol_session(&sid).await;
    assert_carried(&app, "alice", &enrolled.sid, "two-step verification on").await;
    let sid = app.step_up_with_code(&enrolled.sid, &enrolled.secret).await;
    assert_carried(&app, "alice", &sid, "step-up with a code").await;
    let res = app.change_password(&sid, "a new long passphrase 9").await;
    assert_eq!(res.status(), StatusCode::OK, "password changed");
    let sid = new_sid(&res);
    assert_carried(&app, "alice", &sid, "password change").await;
    let res = app.post_form("/api/mfa_disable", &[], Some(&sid)).await;
    assert_eq!(res.status(), StatusCode::OK, "two-step verification off");
    let sid = new_sid(&res);
    assert_carried(&app, "alice", &sid, "two-step verification off").await;

    // Entering the admin area: the live-sessions table names the browser.
    let admin = app.elevated_admin("root").await;
    assert_carried(&app, "root", &admin, "admin entry").await;
    let page = app.page("/admin", &admin).await;
    let live = between(&page, "id=\"admin-sessions\"", "</table>");
    let root_row = between(live[0], "<tr", "</tr>")
        .into_iter()
        .find(|row| row.contains(">root<"))
        .expect("the admin's own session is listed");
    assert!(root_row.contains("Chrome 131 on Linux"), "{root_row}");
    assert!(root_row.contains("127.0.0.1"), "{root_row}");
}
