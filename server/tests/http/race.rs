use futures::future::join_all;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_requests_racing_a_logout_never_resurrect_the_session() {
    let app = spawn_app().await;
    app.register("alice").await;
    for round in 0..5 {
        let sid = app.login("alice", None).await;
        // Past the touch window, so every parallel request tries to write.
        app.clock.advance(61);
        let limit = std::time::Duration::from_secs(20);
        let (app, sid) = (&app, &sid);
        let readers = (0..16).map(|i| async move {
            tokio::time::timeout(limit, app.get("/account", Some(sid)))
                .await
                .unwrap_or_else(|_| panic!("round {round}: reader {i} never answered"))
        });
        let logout = async {
            tokio::time::timeout(limit, app.post_form("/api/logout", &[], Some(sid)))
                .await
                .unwrap_or_else(|_| panic!("round {round}: logout never answered"))
        };
        let (statuses, logout) = tokio::join!(join_all(readers), logout);
        assert_eq!(logout.status(), 200, "round {round}");
        for res in statuses {
            assert!(
                matches!(res.status().as_u16(), 200 | 303),
                "round {round}: {}",
                res.status()
            );
        }
        assert_eq!(
            app.session_rows().await,
            0,
            "round {round}: a row came back"
        );
        assert!(!app.is_signed_in(sid).await, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_sign_ins_each_get_their_own_session() {
    let app = spawn_app().await;
    app.register("alice").await;
    let sids = join_all((0..6).map(|_| app.login("alice", None))).await;
    let distinct: std::collections::HashSet<_> = sids.iter().collect();
    assert_eq!(distinct.len(), sids.len());
    assert_eq!(app.session_rows().await, 6);
}
