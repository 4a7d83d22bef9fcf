//! Who passkeys are bound to: the relying party ID (a domain) and the
//! origins the pages come from. Checked at start-up, so a setting that no
//! browser would accept stops the server with a reason instead of failing
//! every passkey later.

use webauthn_rs::prelude::Url;

use serde::{Deserialize, Serialize};

/// The relying party of passkeys (issue 11).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WebauthnSettings {
    /// The domain passkeys are bound to: the site's host name or a parent
    /// of it. Never an IP address (browsers refuse one): in development,
    /// browse `http://localhost:PORT`.
    pub rp_id: String,
    /// Shown by the browser when it asks for the passkey.
    pub rp_name: String,
    /// The origins pages are served from, comma-separated
    /// (`https://example.com`); each must be on `rp_id`, and `https`
    /// unless it is `localhost`.
    pub origins: String,
    /// A started ceremony must finish within this long.
    pub challenge_timeout_secs: u64,
}

impl Default for WebauthnSettings {
    fn default() -> Self {
        Self {
            rp_id: "localhost".to_owned(),
            rp_name: "Tessera".to_owned(),
            origins: "http://localhost:3000".to_owned(),
            challenge_timeout_secs: 300,
        }
    }
}

/// Settings that passed the checks below.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelyingParty {
    pub id: String,
    pub name: String,
    pub origins: Vec<Url>,
}

impl RelyingParty {
    pub fn from_settings(settings: &WebauthnSettings) -> Result<Self, String> {
        let id = settings.rp_id.trim().to_ascii_lowercase();
        if id.is_empty() {
            return Err("rp_id is empty; set it to the site's domain".to_owned());
        }
        // WebAuthn §5.1.4.1: the RP ID is a registrable domain suffix of
        // the origin's host; an IP address never is (Chromium: "invalid
        // domain").
        if id.parse::<std::net::IpAddr>().is_ok() || id.trim_matches(['[', ']']).contains(':') {
            return Err(format!(
                "rp_id {id:?} is an IP address, which browsers refuse for passkeys; \
                 use a domain (in development `localhost`, and browse http://localhost:PORT)"
            ));
        }
        if id.contains('/') || id.contains(':') {
            return Err(format!(
                "rp_id {id:?} must be a bare domain (no scheme, port or path)"
            ));
        }
        let mut origins = Vec::new();
        for raw in settings
            .origins
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
        {
            let url = Url::parse(raw).map_err(|e| format!("origin {raw:?} is not a URL: {e}"))?;
            let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
            if host != id && !host.ends_with(&format!(".{id}")) {
                return Err(format!("origin {raw:?} is not on rp_id {id:?}"));
            }
            // Passkeys need a secure context: https, or http on localhost.
            let local = host == "localhost" || host.ends_with(".localhost");
            if url.scheme() != "https" && !(url.scheme() == "http" && local) {
                return Err(format!(
                    "origin {raw:?} must use https (http only for localhost)"
                ));
            }
            if url.path() != "/" || url.query().is_some() {
                return Err(format!("origin {raw:?} must be scheme://host[:port] only"));
            }
            origins.push(url);
        }
        if origins.is_empty() {
            return Err("origins is empty; list the URLs the site is served from".to_owned());
        }
        Ok(Self {
            id,
            name: settings.rp_name.clone(),
            origins,
        })
    }

    /// The webauthn-rs verifier for these settings.
    pub fn verifier(&self, timeout_secs: u64) -> Result<webauthn_rs::Webauthn, String> {
        let mut builder = webauthn_rs::WebauthnBuilder::new(&self.id, &self.origins[0])
            .map_err(|e| format!("webauthn-rs refused rp_id {:?}: {e}", self.id))?
            .rp_name(&self.name)
            .timeout(std::time::Duration::from_secs(timeout_secs));
        for origin in &self.origins[1..] {
            builder = builder.append_allowed_origin(origin);
        }
        builder
            .build()
            .map_err(|e| format!("webauthn-rs refused the settings: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(rp_id: &str, origins: &str) -> WebauthnSettings {
        WebauthnSettings {
            rp_id: rp_id.to_owned(),
            origins: origins.to_owned(),
            ..WebauthnSettings::default()
        }
    }

    #[test]
    fn the_defaults_work_for_development_on_localhost() {
        let rp = RelyingParty::from_settings(&WebauthnSettings::default()).expect("valid");
        assert_eq!(rp.id, "localhost");
        assert!(rp.verifier(300).is_ok());
    }

    #[test]
    fn an_ip_address_is_refused_with_the_reason() {
        for ip in ["127.0.0.1", "::1", "[::1]"] {
            let why = RelyingParty::from_settings(&settings(ip, "http://127.0.0.1:3000"))
                .expect_err("an IP cannot be an RP ID");
            assert!(why.contains("IP address"), "{why}");
        }
    }

    #[test]
    fn origins_must_be_on_the_rp_id_and_secure() {
        assert!(
            RelyingParty::from_settings(&settings("example.com", "https://example.com")).is_ok()
        );
        assert!(RelyingParty::from_settings(&settings(
            "example.com",
            "https://app.example.com:8443"
        ))
        .is_ok());
        for bad in [
            "https://example.org",
            "https://badexample.com",
            "http://example.com",
            "https://example.com/app",
            "",
        ] {
            assert!(
                RelyingParty::from_settings(&settings("example.com", bad)).is_err(),
                "{bad:?} must be refused"
            );
        }
        assert!(RelyingParty::from_settings(&settings(
            "https://example.com",
            "https://example.com"
        ))
        .is_err());
    }
}
