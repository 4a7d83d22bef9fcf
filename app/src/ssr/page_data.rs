//! The data server-rendered pages show, read straight from the request
//! (`crate::request` is the pages' side of this seam).
//!
//! Leptos provides the request's `Parts` as context; `with_context` reads
//! what is needed from it in place, instead of cloning every header and
//! extension per use.

use std::sync::Arc;

use axum::http::request::Parts;
use leptos::prelude::{use_context, with_context};

use crate::shared::{
    AccountView, ActivityView, AdminView, AppError, EnrolmentView, PolicyView, SecurityView,
    SessionsView, StepUpView, VerifyView,
};
use crate::ssr::clock::describe_duration;
use crate::ssr::context::CurrentUser;
use crate::ssr::error::internal;
use crate::ssr::mfa::factors;
use crate::ssr::mfa::totp::TotpSecret;
use crate::ssr::passkeys::credentials;
use crate::ssr::session::AuthSession;
use crate::ssr::session::Held;
use crate::ssr::state::AppState;

fn with_current_user<R>(f: impl FnOnce(&CurrentUser) -> R) -> Option<R> {
    with_context::<Parts, _>(|parts| {
        parts
            .extensions
            .get::<Arc<CurrentUser>>()
            .map(|user| f(user))
    })
    .flatten()
}

pub fn query_param(name: &str) -> Option<String> {
    with_context::<Parts, _>(|parts| {
        let query = parts.uri.query()?;
        // Most pages are asked for parameters their URL does not carry.
        if !query.contains(name) {
            return None;
        }
        serde_urlencoded::from_str::<Vec<(String, String)>>(query)
            .ok()?
            .into_iter()
            .find_map(|(key, value)| (key == name).then_some(value))
    })
    .flatten()
}

pub fn signed_in_username() -> Option<String> {
    with_current_user(|user| user.username.clone())
}

pub fn signed_in_names() -> Option<(String, String)> {
    with_current_user(|user| (user.username.clone(), user.profile.display_name.clone()))
}

pub fn account_view() -> Option<AccountView> {
    let state = use_context::<AppState>()?;
    with_current_user(|user| account_of(&state, user))
}

/// The account page's data; also what `/api/account` answers.
pub fn account_of(state: &AppState, user: &CurrentUser) -> AccountView {
    let session = &state.settings.session;
    let d = user.session.deadlines;
    AccountView {
        username: user.username.clone(),
        session_started: d.created_at,
        idle_expires: d.idle_expires_at,
        absolute_expires: d.absolute_expires_at,
        idle_timeout: describe_duration(session.idle_timeout_secs),
        absolute_timeout: describe_duration(session.absolute_timeout_secs),
        display_name: user.profile.display_name.clone(),
        about: user.profile.about.clone(),
        stepped_up_until: stepped_up_until(state, user),
        device_notice: user.device_notice.as_deref().map(device_notice),
    }
}

/// A stored new-device notice (`audit::alerts`): JSON, or the plain text
/// of one stored before it recorded the time apart.
fn device_notice(stored: &str) -> crate::shared::DeviceNotice {
    serde_json::from_str(stored).unwrap_or_else(|_| crate::shared::DeviceNotice {
        what: stored.to_owned(),
        at: None,
        kind: crate::shared::NoticeKind::NewDevice,
    })
}

/// The server's clock, for the words of a time ("3 minutes ago").
pub fn now() -> i64 {
    with_context::<AppState, _>(|state| state.clock.now()).unwrap_or(0)
}

/// When the current step-up ends, while it holds.
fn stepped_up_until(state: &AppState, user: &CurrentUser) -> Option<i64> {
    let window = state.settings.mfa.step_up_window_secs;
    let fresh_for_ms = crate::ssr::mfa::step_up::step_up_fresh_for_ms(
        &user.session.auth,
        state.clock.now(),
        window,
    );
    (fresh_for_ms > 0).then(|| state.clock.now().saturating_add(fresh_for_ms / 1000))
}

pub fn policy_view() -> Option<PolicyView> {
    with_context::<AppState, _>(|state| {
        let s = &state.settings;
        PolicyView {
            idle_timeout: describe_duration(s.session.idle_timeout_secs),
            absolute_timeout: describe_duration(s.session.absolute_timeout_secs),
            warn_before: describe_duration(s.session.warn_before_secs),
            max_per_user: s.session.max_per_user,
            max_failures_per_account: s.login.max_failures_per_account,
            max_failures_per_address: s.login.max_failures_per_address,
            failure_window: describe_duration(s.login.failure_window_secs),
            password_min_length: s.password.min_length,
        }
    })
}

/// Who may see a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visitors {
    /// Anyone, signed in or not.
    Welcome,
    /// A signed-in user only: anyone else is sent to sign in first, before
    /// any rendering happens.
    SignInFirst,
}

/// What a page loads before it renders (`prepare`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loads {
    Nothing,
    Security,
    Verify,
    StepUp,
    Admin,
    Sessions,
    Activity,
}

/// A page of the site, as the request path sees it: who may see it, whether
/// a session held for MFA enrolment (`[mfa] require`) may reach it, and
/// what it loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub path: &'static str,
    pub visitors: Visitors,
    pub while_enrolling: bool,
    pub loads: Loads,
}

impl Page {
    const fn welcome(path: &'static str) -> Self {
        Self {
            path,
            visitors: Visitors::Welcome,
            while_enrolling: false,
            loads: Loads::Nothing,
        }
    }
    const fn signed_in(path: &'static str) -> Self {
        Self {
            visitors: Visitors::SignInFirst,
            ..Self::welcome(path)
        }
    }
    const fn loading(self, loads: Loads) -> Self {
        Self { loads, ..self }
    }
    const fn while_enrolling(self) -> Self {
        Self {
            while_enrolling: true,
            ..self
        }
    }
}

/// Every page the site serves (the routes of `app::app::App`, and the
/// recovery-codes download), declared once: `resolve_session` reads who may
/// see it and whether an enrolling session may, `prepare` what it loads.
/// `server/tests/http/pages.rs` holds it against the route table.
pub const PAGES: &[Page] = &[
    Page::welcome("/"),
    Page::welcome("/about"),
    Page::welcome("/register"),
    Page::welcome("/login"),
    Page::welcome("/login/verify").loading(Loads::Verify),
    Page::signed_in("/account"),
    // The enrolment page (`mfa::sign_in::ENROLMENT_PAGE`) and its download.
    Page::signed_in("/account/security")
        .loading(Loads::Security)
        .while_enrolling(),
    Page::signed_in("/account/security/recovery-codes.txt").while_enrolling(),
    Page::signed_in("/account/sessions").loading(Loads::Sessions),
    Page::signed_in("/account/activity").loading(Loads::Activity),
    // Reachable while enrolling: the enrolment needs a fresh step-up.
    Page::signed_in("/step-up")
        .loading(Loads::StepUp)
        .while_enrolling(),
    Page::signed_in("/admin").loading(Loads::Admin),
];

/// The page at `path`, if it is one.
pub fn page(path: &str) -> Option<&'static Page> {
    PAGES.iter().find(|page| page.path == path)
}

/// Data some pages need from the database or the session: loaded once by
/// `resolve_session` before rendering (rendering stays synchronous, with no
/// `Resource`), kept in the request, read by the page.
#[derive(Debug, Clone)]
pub enum PageData {
    Security(SecurityView),
    Verify(VerifyView),
    StepUp(StepUpView),
    Admin(AdminView),
    Sessions(SessionsView),
    Activity(ActivityView),
}

/// Loads the data `page` needs, if any.
pub async fn prepare(
    page: &Page,
    query: Option<&str>,
    state: &AppState,
    user: Option<&CurrentUser>,
    auth: &AuthSession,
) -> Result<Option<PageData>, AppError> {
    Ok(match (page.loads, user) {
        (Loads::Nothing, _) => None,
        (Loads::Security, Some(user)) => {
            Some(PageData::Security(security_of(state, user, auth).await?))
        }
        (Loads::StepUp, Some(user)) => Some(PageData::StepUp(StepUpView {
            mfa_enabled: factors::is_enrolled(&state.db, user.user_id).await?,
            has_passkey: credentials::count(&state.db, user.user_id).await? > 0,
        })),
        (Loads::Admin, Some(user)) => {
            #[derive(serde::Deserialize, Default)]
            #[serde(default)]
            struct AdminQuery {
                q: String,
                page: i64,
                log_user: String,
                log_event: String,
                log_hours: i64,
            }
            // A malformed query is the first page of everyone.
            let parsed: AdminQuery =
                serde_urlencoded::from_str(query.unwrap_or_default()).unwrap_or_default();
            Some(PageData::Admin(
                crate::ssr::admin::view(
                    state,
                    user,
                    &parsed.q,
                    parsed.page,
                    crate::shared::AuditFilter {
                        user: parsed.log_user,
                        event: parsed.log_event,
                        hours: parsed.log_hours,
                    },
                )
                .await?,
            ))
        }
        (Loads::Sessions, Some(user)) => Some(PageData::Sessions(
            crate::ssr::account::devices::sessions_view(state, user, auth.storage_key()).await?,
        )),
        (Loads::Activity, Some(user)) => {
            let page = query
                .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
                .and_then(|pairs| {
                    pairs
                        .into_iter()
                        .find_map(|(k, v)| (k == "page").then(|| v.parse::<i64>().ok()))
                        .flatten()
                })
                .unwrap_or(1);
            Some(PageData::Activity(
                crate::ssr::account::devices::activity_view(state, user.user_id, page).await?,
            ))
        }
        (Loads::Verify, _) => {
            let pending = auth.pending_sign_in().await.map_err(internal)?;
            let has_passkey = match &pending {
                Some(pending) => credentials::count(&state.db, pending.user_id).await? > 0,
                None => false,
            };
            Some(PageData::Verify(VerifyView {
                pending: pending.is_some(),
                has_passkey,
            }))
        }
        _ => None,
    })
}

async fn security_of(
    state: &AppState,
    user: &CurrentUser,
    auth: &AuthSession,
) -> Result<SecurityView, AppError> {
    let mfa_enabled = factors::is_enrolled(&state.db, user.user_id).await?;
    let mfa_available = state.mfa_key.is_some();
    let mut view = SecurityView {
        must_enrol: user.session.auth.must_enrol,
        mfa_available,
        mfa_enabled,
        ..SecurityView::default()
    };
    if mfa_enabled {
        view.recovery_codes_left =
            factors::remaining_recovery_codes(&state.db, user.user_id).await?;
        view.recovery_codes_short =
            factors::has_short_recovery_codes(&state.db, user.user_id).await?;
    }
    if mfa_available {
        if let Some(held) = auth
            .sealed(Held::RecoveryCodesToShow)
            .await
            .map_err(internal)?
        {
            view.new_recovery_codes =
                crate::ssr::mfa::enrolment::open_codes_to_show(state, user.user_id, &held)?;
        }
        if !mfa_enabled {
            if let Some(held) = auth.sealed(Held::Enrolment).await.map_err(internal)? {
                if let Some(secret) =
                    crate::ssr::mfa::enrolment::open_enrolment(state, user.user_id, &held)?
                {
                    view.enrolment = Some(enrolment_view(&secret, &user.username)?);
                }
            }
        }
    }
    let now = state.clock.now();
    let window = state.settings.mfa.step_up_window_secs;
    view.step_up_fresh_for_ms =
        crate::ssr::mfa::step_up::step_up_fresh_for_ms(&user.session.auth, now, window);
    view.stepped_up_until = stepped_up_until(state, user);
    if mfa_enabled {
        view.passkeys = crate::ssr::passkeys::manage::views(&state.db, user.user_id).await?;
    }
    Ok(view)
}

/// The QR code (inline SVG: no image request, nothing a strict CSP
/// refuses) and the secret grouped for typing.
fn enrolment_view(secret: &TotpSecret, username: &str) -> Result<EnrolmentView, AppError> {
    use qrcode::render::svg;
    let uri = secret
        .provisioning_uri(username)
        .ok_or(AppError::Internal)?;
    let code = qrcode::QrCode::new(uri.as_bytes()).map_err(internal)?;
    let svg = code
        .render::<svg::Color>()
        .min_dimensions(200, 200)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build();
    // Inline in HTML: the XML declaration is not needed.
    let qr_svg = match svg.find("<svg") {
        Some(start) => svg[start..].to_owned(),
        None => svg,
    };
    let base32 = secret.base32();
    let grouped = base32
        .as_bytes()
        .chunks(4)
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    Ok(EnrolmentView {
        qr_svg,
        secret_base32: grouped,
    })
}

fn with_page_data<R>(f: impl FnOnce(&PageData) -> Option<R>) -> Option<R> {
    with_context::<Parts, _>(|parts| parts.extensions.get::<Arc<PageData>>().and_then(|d| f(d)))
        .flatten()
}

pub fn security_view() -> Option<SecurityView> {
    with_page_data(|d| match d {
        PageData::Security(v) => Some(v.clone()),
        _ => None,
    })
}

pub fn verify_view() -> Option<VerifyView> {
    with_page_data(|d| match d {
        PageData::Verify(v) => Some(v.clone()),
        _ => None,
    })
}

pub fn step_up_view() -> Option<StepUpView> {
    with_page_data(|d| match d {
        PageData::StepUp(v) => Some(v.clone()),
        _ => None,
    })
}

pub fn sessions_view() -> Option<SessionsView> {
    with_page_data(|d| match d {
        PageData::Sessions(v) => Some(v.clone()),
        _ => None,
    })
}

pub fn activity_view() -> Option<ActivityView> {
    with_page_data(|d| match d {
        PageData::Activity(v) => Some(v.clone()),
        _ => None,
    })
}

pub fn admin_view() -> Option<AdminView> {
    with_page_data(|d| match d {
        PageData::Admin(v) => Some(v.clone()),
        _ => None,
    })
}
