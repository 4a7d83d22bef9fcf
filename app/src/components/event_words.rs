//! An audit event as a row says it: its words (`ssr::audit::words`), a
//! failure marked, an alert's severity named. The activity page and
//! `/admin` both show events through it.

use leptos::prelude::*;

/// An event's words, a failure marked as one and an alert's severity named
/// (by text, not colour alone: WCAG 1.4.1). Shared by the activity page and `/admin`.
#[component]
pub fn EventWords(what: String, succeeded: bool, severity: Option<String>) -> impl IntoView {
    let severity = severity.map(|level| {
        let label = match level.as_str() {
            "high" => "High",
            "info" => "Info",
            _ => "Warning",
        };
        view! { <span class=format!("badge severity-{level}")>{label}</span> " " }
    });
    view! {
        {severity}
        {(!succeeded).then(|| view! { <span class="badge failed-badge">"Failed"</span> " " })}
        <span class="what">{what}</span>
    }
}
