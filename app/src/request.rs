//! What server-rendered pages read from the request being answered: the
//! signed-in user and the settings in force. This is the one seam between
//! pages and the server core.
//!
//! Pages are server-only (islands, issue 9): they are rendered once on the
//! server and never hydrated, so what they show needs no `Resource`, no
//! `Suspense` and no serialisation into the page. Only islands run in the
//! browser, and they never call these functions; in the browser build the
//! functions exist only so that the pages compile, and answer "nothing".

use crate::api::{
    AccountView, ActivityView, AdminView, PolicyView, SecurityView, SessionsView, StepUpView,
    VerifyView,
};

/// The signed-in user's name.
pub fn signed_in_username() -> Option<String> {
    #[cfg(feature = "ssr")]
    return crate::ssr::page_data::signed_in_username();
    #[cfg(not(feature = "ssr"))]
    None
}

/// The server's clock (unix seconds) while it renders a page: the words of
/// a time ("3 minutes ago") are counted from it.
pub fn server_now() -> i64 {
    #[cfg(feature = "ssr")]
    return crate::ssr::page_data::now();
    #[cfg(not(feature = "ssr"))]
    0
}

/// The signed-in user's name and, when they set one, display name.
pub fn signed_in_names() -> Option<(String, String)> {
    #[cfg(feature = "ssr")]
    return crate::ssr::page_data::signed_in_names();
    #[cfg(not(feature = "ssr"))]
    None
}

/// The value of `name` in the query string of the page being rendered.
/// Read from the request in place: cheaper than the router's
/// `use_query_map`, which builds a reactive map per use (W1, issue 9).
pub fn query_param(name: &str) -> Option<String> {
    #[cfg(feature = "ssr")]
    return crate::ssr::page_data::query_param(name);
    #[cfg(not(feature = "ssr"))]
    {
        let _ = name;
        None
    }
}

/// The signed-in user's account page data.
pub fn account_view() -> Option<AccountView> {
    #[cfg(feature = "ssr")]
    return crate::ssr::page_data::account_view();
    #[cfg(not(feature = "ssr"))]
    None
}

/// The session policy in force, for visitors.
pub fn policy_view() -> Option<PolicyView> {
    #[cfg(feature = "ssr")]
    return crate::ssr::page_data::policy_view();
    #[cfg(not(feature = "ssr"))]
    None
}

/// `/account/security`'s data (loaded before rendering).
pub fn security_view() -> Option<SecurityView> {
    #[cfg(feature = "ssr")]
    return crate::ssr::page_data::security_view();
    #[cfg(not(feature = "ssr"))]
    None
}

/// `/login/verify`'s data.
pub fn verify_view() -> Option<VerifyView> {
    #[cfg(feature = "ssr")]
    return crate::ssr::page_data::verify_view();
    #[cfg(not(feature = "ssr"))]
    None
}

/// `/step-up`'s data.
pub fn step_up_view() -> Option<StepUpView> {
    #[cfg(feature = "ssr")]
    return crate::ssr::page_data::step_up_view();
    #[cfg(not(feature = "ssr"))]
    None
}

/// `/account/sessions`' data.
pub fn sessions_view() -> Option<SessionsView> {
    #[cfg(feature = "ssr")]
    return crate::ssr::page_data::sessions_view();
    #[cfg(not(feature = "ssr"))]
    None
}

/// `/account/activity`'s data.
pub fn activity_view() -> Option<ActivityView> {
    #[cfg(feature = "ssr")]
    return crate::ssr::page_data::activity_view();
    #[cfg(not(feature = "ssr"))]
    None
}

/// `/admin`'s data.
pub fn admin_view() -> Option<AdminView> {
    #[cfg(feature = "ssr")]
    return crate::ssr::page_data::admin_view();
    #[cfg(not(feature = "ssr"))]
    None
}
