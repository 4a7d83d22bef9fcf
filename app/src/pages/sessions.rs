//! `/account/sessions`: where the user is signed in (ASVS 7.5.2). Each live
//! session with its browser and system, first and last IP, when it started
//! and was last active; this device marked. End one, or all the others
//! (after a step-up). Plain forms.

use leptos::prelude::*;

use crate::api::{SessionItem, SessionsView};
use crate::components::address::Address;
use crate::components::form::PostedError;
use crate::components::step_up_dialog::StepUpDialog;
use crate::components::time::Time;
use crate::request::{query_param, sessions_view};

#[component]
pub fn SessionsPage() -> impl IntoView {
    let SessionsView {
        sessions,
        mfa_enabled,
        has_passkey,
        step_up_fresh_for_ms,
    } = sessions_view().unwrap_or_default();
    let ended = query_param("ended").map(|n| {
        view! { <p class="notice" role="status" id="sessions-notice">{format!("Ended {n} session(s). They are signed out on their next request.")}</p> }
    });
    let others = sessions.iter().filter(|s| !s.this_device).count();
    view! {
        <h1>"Where you are signed in"</h1>
        {ended}
        <StepUpDialog mfa_enabled has_passkey fresh_for_ms=step_up_fresh_for_ms/>
        <ul id="session-list" class="sessions">
            {sessions.into_iter().map(|s| view! { <SessionRow session=s/> }).collect_view()}
        </ul>
        <PostedError endpoint="session_revoke"/>
        {(others > 0).then(|| view! {
            <form method="post" action="/api/sessions_end_others" data-step-up="" class="inline-form" id="end-others-form">
                <button type="submit" class="danger">"Sign out everywhere else"</button>
            </form>
        })}
        <PostedError endpoint="sessions_end_others"/>
        <p>
            "Do not recognise a session? End it, then change your password on the "
            <a href="/account/security">"security page"</a> "."
        </p>
    }
}

#[component]
fn SessionRow(session: SessionItem) -> impl IntoView {
    let SessionItem {
        handle,
        device,
        ip_first,
        ip_last,
        place_first,
        place_last,
        started,
        last_active,
        this_device,
        device_bound,
    } = session;
    let addresses = if ip_first == ip_last {
        view! { "from " <Address ip=ip_last place=place_last/> }.into_any()
    } else {
        view! {
            "from " <Address ip=ip_first place=place_first/>
            ", now " <Address ip=ip_last place=place_last/>
        }
        .into_any()
    };
    view! {
        <li class="session" data-this-device=this_device.to_string()>
            <div class="session-about">
                <strong class="session-device">{device}</strong>
                {this_device.then(|| view! { " " <span class="this-device">"(this device)"</span> })}
                {device_bound.then(|| view! {
                    " " <span class="badge device-bound"
                        title="Bound to a key in this device's hardware: its cookie copied elsewhere does not sign in">
                        "Device-bound"
                    </span>
                })}
                <br/>
                <span class="session-meta">
                    {addresses} " · signed in " <Time at=started/>
                    " · last active " <Time at=last_active/>
                </span>
            </div>
            {(!this_device).then(|| view! {
                <form method="post" action="/api/session_revoke" class="inline-form">
                    <input type="hidden" name="handle" value=handle/>
                    <button type="submit" class="secondary">"End this session"</button>
                </form>
            })}
        </li>
    }
}
