//! Content-hashed names for the build's JS, wasm and CSS (issue 13: static
//! assets cached for a year, pages never). cargo-leptos' `hash-files` makes
//! Leptos 0.8 read `hash.txt` from disk on every page render (~9 µs a
//! page, README "Known limitations"), so the hash is taken here once at
//! start-up: one hash of the three files' contents, put in the name pages
//! use (`tessera.<hash>.js`, `.wasm`, `.css`), and such requests are served
//! from the plain files. A new build is a new hash, so a year of
//! `immutable` caching (`http::cache::cache_policy`) never serves a stale file.

use std::path::Path;

use axum::http::{Request, Uri};
use sha2::{Digest, Sha256};

/// The build's names: `stem` (e.g. `tessera`) and its content hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashedAssets {
    pub stem: String,
    pub hash: String,
}

impl HashedAssets {
    /// Reads `<site_root>/<pkg_dir>/<stem>.{js,wasm,css}`; `None` when any
    /// is missing (tests without a build): the plain names are used then.
    pub fn of_build(site_root: &Path, pkg_dir: &str, stem: &str) -> Option<Self> {
        use base64::Engine as _;
        let mut digest = Sha256::new();
        for extension in ["js", "wasm", "css"] {
            let file = site_root.join(pkg_dir).join(format!("{stem}.{extension}"));
            digest.update(std::fs::read(file).ok()?);
        }
        let digest = digest.finalize();
        Some(Self {
            stem: stem.to_owned(),
            // 128 bits, base64url: `http::cache::cache_policy` knows the shape.
            hash: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16]),
        })
    }

    /// The name pages use: `tessera.<hash>`.
    pub fn hashed_stem(&self) -> String {
        format!("{}.{}", self.stem, self.hash)
    }

    /// `/pkg/tessera.<hash>.js` is served from `/pkg/tessera.js` (and so
    /// for `.wasm` and `.css`); any other path, or an old hash, is left
    /// alone (and is not found).
    pub fn plain_path(&self, path: &str) -> Option<String> {
        let file = path.strip_prefix("/pkg/")?;
        let rest = file
            .strip_prefix(self.stem.as_str())?
            .strip_prefix('.')?
            .strip_prefix(self.hash.as_str())?;
        matches!(rest, ".js" | ".wasm" | ".css").then(|| format!("/pkg/{}{rest}", self.stem))
    }

    /// The request, pointed at the plain file when it names the hashed one.
    pub fn rewrite<B>(&self, mut req: Request<B>) -> Request<B> {
        if let Some(plain) = self.plain_path(req.uri().path()) {
            if let Ok(uri) = plain.parse::<Uri>() {
                *req.uri_mut() = uri;
            }
        }
        req
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_follows_the_contents_and_maps_back_to_the_plain_files() {
        let dir = tempfile::tempdir().expect("dir");
        let pkg = dir.path().join("pkg");
        std::fs::create_dir_all(&pkg).expect("pkg");
        assert_eq!(HashedAssets::of_build(dir.path(), "pkg", "app"), None);
        for extension in ["js", "wasm", "css"] {
            std::fs::write(pkg.join(format!("app.{extension}")), extension).expect("write");
        }
        let assets = HashedAssets::of_build(dir.path(), "pkg", "app").expect("hashed");
        assert_eq!(assets.hash.len(), 22);
        let name = assets.hashed_stem();
        assert_eq!(
            assets.plain_path(&format!("/pkg/{name}.wasm")).as_deref(),
            Some("/pkg/app.wasm")
        );
        assert_eq!(
            assets.plain_path("/pkg/app.wasm"),
            None,
            "plain stays plain"
        );
        assert_eq!(
            assets.plain_path("/pkg/app.AAAAAAAAAAAAAAAAAAAAAA.js"),
            None
        );
        assert_eq!(assets.plain_path(&format!("/pkg/{name}.txt")), None);
        std::fs::write(pkg.join("app.css"), "changed").expect("write");
        let rebuilt = HashedAssets::of_build(dir.path(), "pkg", "app").expect("hashed");
        assert_ne!(rebuilt.hash, assets.hash, "a new build, a new name");
    }
}
