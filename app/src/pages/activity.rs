//! `/account/activity`: the user's own account events from the audit log,
//! newest first, 20 a page: when, what (in words, `ssr::audit::words`),
//! from which browser and system, and IP.

use leptos::prelude::*;

use crate::api::ActivityView;
use crate::components::address::Address;
use crate::components::event_words::EventWords;
use crate::components::time::Time;
use crate::request::activity_view;

#[component]
pub fn ActivityPage() -> impl IntoView {
    let ActivityView {
        items,
        page,
        has_next,
    } = activity_view().unwrap_or_default();
    let previous = (page > 1).then(|| {
        view! { <a href=format!("/account/activity?page={}", page - 1)>"Newer"</a> }
    });
    let next = has_next.then(|| {
        view! { <a href=format!("/account/activity?page={}", page + 1)>"Older"</a> }
    });
    let none = items
        .is_empty()
        .then(|| view! { <tr><td colspan="4" class="empty">"Nothing yet."</td></tr> });
    view! {
        <h1>"Account activity"</h1>
        <table id="activity">
            <thead>
                <tr><th>"When"</th><th>"What"</th><th>"Browser"</th><th>"IP"</th></tr>
            </thead>
            <tbody>
                {items.into_iter().map(|item| view! {
                    <tr class=if item.succeeded { "event" } else { "event failed" }>
                        <td class="when"><Time at=item.when/></td>
                        <td><EventWords what=item.what succeeded=item.succeeded severity=item.severity/></td>
                        <td>{item.device}</td>
                        <td><Address ip=item.ip place=item.place/></td>
                    </tr>
                }).collect_view()}
                {none}
            </tbody>
        </table>
        <p>{previous} " " {next}</p>
        <p><a href="/account">"Back to your account"</a></p>
    }
}
