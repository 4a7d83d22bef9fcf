//! Key rotation: a retired key is published until its tokens expire.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_is_published_until_its_tokens_expire_then_refused() {
    let app = spawn_app().await;
    let (_, token) = app.signed_in_with_token("alice").await;
    let (old_kid, old_pem) = app.key_file();
    let (_, mut long_lived) = parts(&token);
    // A token of the old key that would outlive its publication.
    long_lived["exp"] = json!(app.clock.now() + 86_400);
    let long_lived = sign(&header(Algorithm::EdDSA, &old_kid), &long_lived, &old_pem);
    assert_eq!(app.me(&long_lived).await.status(), StatusCode::OK);

    let settings = &app.state.settings.jwt;
    let rotation = app::ssr::tokens::keys::rotate(&settings.key_dir, app.clock.now(), settings)
        .expect("rotate");
    let kids = |jwks: Value| -> Vec<String> {
        jwks["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .map(|k| k["kid"].as_str().expect("kid").to_owned())
            .collect()
    };
    let jwks: Value = app.jwks().await;
    assert_eq!(kids(jwks), vec![old_kid.clone(), rotation.new_kid.clone()]);
    // The new key signs once every server has had `reload_secs` (0 in
    // the tests) to read it; it is dated a second ahead here (two keys
    // made within one second are a second apart).
    app.clock.advance(1);
    let new_token = {
        let sid = app.login("alice", None).await;
        let sid = app.step_up_with_password(&sid).await;
        app.mint(&sid).await
    };
    assert_eq!(
        parts(&new_token).0["kid"],
        rotation.new_kid.as_str(),
        "the new key signs"
    );
    assert_eq!(
        app.me(&token).await.status(),
        StatusCode::OK,
        "old key still published"
    );

    // One token lifetime and the leeway after the new key's date (a second
    // after the old key's: both were made within this second), the old key
    // is gone.
    app.clock.advance(300 + 30 + 1);
    let jwks: Value = app.jwks().await;
    assert_eq!(kids(jwks), vec![rotation.new_kid.clone()]);
    assert_refused(
        app.me(&long_lived).await,
        "signing key is unknown",
        "retired key",
    )
    .await;
}
