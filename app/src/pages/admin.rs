//! `/admin`: users, and ending a user's sessions. Admins only; entering
//! needs a fresh step-up and moves the session to a new ID.

use leptos::prelude::*;

use crate::api::{AdminEvent, AdminView};
use crate::components::form::PostedError;
use crate::components::step_up_dialog::StepUpDialog;
use crate::request::{admin_view, query_param};

#[component]
pub fn AdminPage() -> impl IntoView {
    let view = admin_view().unwrap_or_default();
    if !view.is_admin {
        // The server answers the same for every admin function (403).
        return view! {
            <h1>"Admin"</h1>
            <p role="alert">"You do not have access to this."</p>
        }
        .into_any();
    }
    if !view.elevated {
        return view! {
            <h1>"Admin"</h1>
            <p>"Entering the admin area needs a fresh confirmation. It lasts for the step-up window, then you are asked again."</p>
            // The session has not stepped up yet or has lapsed: the dialog
            // asks whenever the server would.
            <StepUpDialog mfa_enabled=view.mfa_enabled fresh_for_ms=view.step_up_fresh_for_ms/>
            <form method="post" action="/api/admin_enter" data-step-up="" id="admin-enter-form">
                <button type="submit">"Enter the admin area"</button>
            </form>
            <PostedError endpoint="admin_enter"/>
        }
        .into_any();
    }
    view! { <UserList view/> }.into_any()
}

#[component]
fn UserList(view: AdminView) -> impl IntoView {
    let ended = query_param("ended");
    let AdminView {
        users,
        page,
        has_next,
        search,
        alerts,
        sessions,
        events,
        filter,
        ..
    } = view;
    let encoded = crate::urls::percent_encode(&search);
    let previous = (page > 1).then(|| {
        view! { <a href=format!("/admin?q={encoded}&page={}", page - 1)>"Previous"</a> }
    });
    let next = has_next.then(|| {
        view! { <a href=format!("/admin?q={encoded}&page={}", page + 1)>"Next"</a> }
    });
    view! {
        <h1>"Admin"</h1>
        {ended.map(|n| view! { <p class="notice" role="status" id="admin-notice">{format!("Ended {n} sessions.")}</p> })}
        <form method="get" action="/admin" class="inline-form" role="search">
            <label>"Find users " <input name="q" value=search.clone() maxlength="32"/></label>
            <button type="submit">"Search"</button>
        </form>
        <table id="admin-users">
            <thead>
                <tr><th>"User"</th><th>"Two-step"</th><th>"Last sign-in"</th><th>"Active sessions"</th><th></th></tr>
            </thead>
            <tbody>
                {users.into_iter().map(|u| view! {
                    <tr>
                        <td>{u.username.clone()}{u.is_admin.then_some(" (admin)")}</td>
                        <td>{if u.mfa_enabled { "on" } else { "off" }}</td>
                        <td>{u.last_sign_in}</td>
                        <td>{u.active_sessions}</td>
                        <td>
                            <form method="post" action="/api/admin_end_sessions" class="inline-form">
                                <input type="hidden" name="user_id" value=u.id/>
                                <button type="submit">{format!("End all sessions of {}", u.username)}</button>
                            </form>
                        </td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        <PostedError endpoint="admin_end_sessions"/>
        <p>{previous} " " {next}</p>
        <h2>"Recent alerts"</h2>
        <EventTable id="admin-alerts" events=alerts/>
        <h2>"Live sessions"</h2>
        <table id="admin-sessions">
            <thead>
                <tr><th>"User"</th><th>"Browser"</th><th>"IP"</th><th>"Last active"</th><th></th></tr>
            </thead>
            <tbody>
                {sessions.into_iter().map(|s| view! {
                    <tr>
                        <td>{s.username.clone()}</td>
                        <td>{s.device}</td>
                        <td>{s.ip}</td>
                        <td>{s.last_active}</td>
                        <td>
                            <form method="post" action="/api/admin_revoke_session" class="inline-form">
                                <input type="hidden" name="user_id" value=s.user_id/>
                                <input type="hidden" name="handle" value=s.handle/>
                                <button type="submit">{format!("End this session of {}", s.username)}</button>
                            </form>
                        </td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        <PostedError endpoint="admin_revoke_session"/>
        <h2>"Audit log"</h2>
        <form method="get" action="/admin" class="inline-form" id="audit-filter">
            <label>"User " <input name="log_user" value=filter.user maxlength="32"/></label>
            <label>"Event " <input name="log_event" value=filter.event maxlength="32"/></label>
            <label>"Hours back " <input name="log_hours" type="number" min="1" value=filter.hours/></label>
            <button type="submit">"Show"</button>
        </form>
        <EventTable id="admin-events" events/>
    }
}

#[component]
fn EventTable(id: &'static str, events: Vec<AdminEvent>) -> impl IntoView {
    view! {
        <table id=id>
            <thead>
                <tr><th>"When (UTC)"</th><th>"Event"</th><th>"User"</th><th>"IP"</th><th>"Browser"</th><th>"Details"</th></tr>
            </thead>
            <tbody>
                {events.into_iter().map(|e| view! {
                    <tr class=if e.succeeded { "event" } else { "event failed" }>
                        <td>{e.when}</td>
                        <td>{e.event}{(!e.succeeded).then_some(" (failed)")}</td>
                        <td>{e.user}</td>
                        <td>{e.ip}</td>
                        <td>{e.device}</td>
                        <td><code>{e.details}</code></td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}
