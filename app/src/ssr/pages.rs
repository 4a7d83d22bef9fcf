//! The data server-rendered pages show, read straight from the request
//! (`crate::request` is the pages' side of this seam).
//!
//! Leptos provides the request's `Parts` as context; `with_context` reads
//! what is needed from it in place, instead of cloning every header and
//! extension per use.

use std::sync::Arc;

use axum::http::request::Parts;
use leptos::prelude::{use_context, with_context};

use crate::api::{AccountView, PolicyView};
use crate::ssr::state::AppState;
use crate::ssr::web::{describe_duration, format_time, CurrentUser};

fn with_current_user<R>(f: impl FnOnce(&CurrentUser) -> R) -> Option<R> {
    with_context::<Parts, _>(|parts| {
        parts
            .extensions
            .get::<Arc<CurrentUser>>()
            .map(|user| f(user))
    })
    .flatten()
}

pub fn signed_in_username() -> Option<String> {
    with_current_user(|user| user.username.clone())
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
        session_started: format_time(d.created_at),
        idle_expires: format_time(d.idle_expires_at),
        absolute_expires: format_time(d.absolute_expires_at),
        idle_timeout: describe_duration(session.idle_timeout_secs),
        absolute_timeout: describe_duration(session.absolute_timeout_secs),
        display_name: user.profile.display_name.clone(),
        about: user.profile.about.clone(),
    }
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
