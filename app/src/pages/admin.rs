//! `/admin`: users, and ending a user's sessions. Admins only; entering
//! needs a fresh step-up and moves the session to a new ID.

use leptos::prelude::*;

use crate::api::AdminView;
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
    }
}
