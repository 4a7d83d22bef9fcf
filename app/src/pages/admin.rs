//! `/admin`: users, and ending a user's sessions. Admins only; entering
//! needs a fresh step-up and moves the session to a new ID.

use leptos::prelude::*;

use crate::api::{AdminEvent, AdminView};
use crate::components::address::Address;
use crate::components::event_words::EventWords;
use crate::components::form::PostedError;
use crate::components::step_up_dialog::StepUpDialog;
use crate::components::time::Time;
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
        event_names,
        ..
    } = view;
    let encoded = crate::urls::percent_encode(&search);
    let previous = (page > 1).then(|| {
        view! { <a href=format!("/admin?q={encoded}&page={}", page - 1)>"Previous"</a> }
    });
    let next = has_next.then(|| {
        view! { <a href=format!("/admin?q={encoded}&page={}", page + 1)>"Next"</a> }
    });
    let chosen = filter.event.clone();
    view! {
        <div class="admin-console">
        <h1>"Admin"</h1>
        {ended.map(|n| view! { <p class="notice" role="status" id="admin-notice">{format!("Ended {n} sessions.")}</p> })}
        <section aria-labelledby="users-heading">
            <div class="toolbar">
                <h2 id="users-heading">"Users"</h2>
                <form method="get" action="/admin" class="inline-form" role="search">
                    <label>"Find users " <input name="q" value=search.clone() maxlength="32"/></label>
                    <button type="submit">"Search"</button>
                </form>
                <span class="paging">{previous} " " {next}</span>
            </div>
            <table id="admin-users" class="compact">
                <thead>
                    <tr><th>"User"</th><th>"Two-step"</th><th>"Last sign-in"</th><th>"Active sessions"</th><th><span class="visually-hidden">"Actions"</span></th></tr>
                </thead>
                <tbody>
                    {users.into_iter().map(|u| view! {
                        <tr>
                            <td>{u.username.clone()}{u.is_admin.then_some(" (admin)")}</td>
                            <td>{if u.mfa_enabled { "on" } else { "off" }}</td>
                            <td class="when">{match u.last_sign_in {
                                Some(at) => view! { <Time at/> }.into_any(),
                                None => "not in the log".into_any(),
                            }}</td>
                            <td class="number">{u.active_sessions}</td>
                            <td class="action">
                                <form method="post" action="/api/admin_end_sessions" class="inline-form">
                                    <input type="hidden" name="user_id" value=u.id/>
                                    // The visible words are in the accessible
                                    // name (WCAG 2.5.3), which names the user.
                                    <button type="submit" class="secondary small"
                                        aria-label=format!("End all sessions of {}", u.username)>"End all sessions"</button>
                                </form>
                            </td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
            <PostedError endpoint="admin_end_sessions"/>
        </section>
        <section aria-labelledby="alerts-heading">
            <h2 id="alerts-heading">"Recent alerts"</h2>
            <EventTable id="admin-alerts" events=alerts empty="No alerts in the last 7 days."/>
        </section>
        <section aria-labelledby="sessions-heading">
            <h2 id="sessions-heading">"Live sessions"</h2>
            <p id="bound-share">
                "Device-bound: " {view.bound_sessions} " of " {view.live_sessions}
                " signed-in sessions"
                {(view.live_sessions > 0).then(|| format!(" ({}%)", view.bound_sessions * 100 / view.live_sessions))}
                " (their cookies do not work on another device)."
            </p>
            <table id="admin-sessions" class="compact">
                <thead>
                    <tr><th>"User"</th><th>"Browser"</th><th>"IP"</th><th>"Last active"</th><th><span class="visually-hidden">"Actions"</span></th></tr>
                </thead>
                <tbody>
                    {sessions.into_iter().map(|s| view! {
                        <tr>
                            <td>{s.username.clone()}</td>
                            <td>{s.device}</td>
                            <td class="ip"><Address ip=s.ip place=s.place/></td>
                            <td class="when"><Time at=s.last_active/></td>
                            <td class="action">
                                <form method="post" action="/api/admin_revoke_session" class="inline-form">
                                    <input type="hidden" name="user_id" value=s.user_id/>
                                    <input type="hidden" name="handle" value=s.handle/>
                                    <button type="submit" class="secondary small"
                                        aria-label=format!("End this session of {}", s.username)>"End this session"</button>
                                </form>
                            </td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
            <PostedError endpoint="admin_revoke_session"/>
        </section>
        <section aria-labelledby="log-heading">
            <div class="toolbar">
                <h2 id="log-heading">"Audit log"</h2>
                <form method="get" action="/admin" class="inline-form" id="audit-filter">
                    <label>"User " <input name="log_user" value=filter.user maxlength="32" size="12"/></label>
                    <label>"Event "
                        <select name="log_event">
                            <option value="" selected=chosen.is_empty()>"All events"</option>
                            {event_names.into_iter().map(|(name, label)| {
                                let selected = name == chosen;
                                view! { <option value=name selected=selected>{label}</option> }
                            }).collect_view()}
                        </select>
                    </label>
                    <label>"Hours back " <input name="log_hours" type="number" min="1" value=filter.hours size="5"/></label>
                    <button type="submit">"Show"</button>
                </form>
            </div>
            <EventTable id="admin-events" events empty="No events match."/>
        </section>
        </div>
    }
}

/// Events in words, newest first; each row's stored record behind a
/// disclosure for the admin who needs the machine names and details.
#[component]
fn EventTable(id: &'static str, events: Vec<AdminEvent>, empty: &'static str) -> impl IntoView {
    let none = events
        .is_empty()
        .then(|| view! { <tr><td colspan="6" class="empty">{empty}</td></tr> });
    view! {
        <table id=id class="compact events">
            <thead>
                <tr><th>"When"</th><th>"What"</th><th>"User"</th><th>"IP"</th><th>"Browser"</th><th>"Record"</th></tr>
            </thead>
            <tbody>
                {events.into_iter().map(|e| {
                    let record = format!(
                        "{} {} {}",
                        e.event,
                        if e.succeeded { "success" } else { "failure" },
                        e.details
                    );
                    view! {
                        <tr class=if e.succeeded { "event" } else { "event failed" } data-event=e.event>
                            <td class="when"><Time at=e.when/></td>
                            <td><EventWords what=e.what succeeded=e.succeeded severity=e.severity/></td>
                            <td>{e.user}</td>
                            <td class="ip"><Address ip=e.ip place=e.place/></td>
                            <td>{e.device}</td>
                            <td><details><summary>"Record"</summary><code>{record}</code></details></td>
                        </tr>
                    }
                }).collect_view()}
                {none}
            </tbody>
        </table>
    }
}
