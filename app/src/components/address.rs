//! An IP address as the pages show it: with its place beside it when the
//! operator's GeoIP database knows it ("203.0.113.50 · Sydney, AU", issue
//! 25). The sessions page, the activity page and `/admin` use it.

use leptos::prelude::*;

#[component]
pub fn Address(ip: String, place: Option<String>) -> impl IntoView {
    view! {
        <span class="ip">{ip}</span>
        {place.map(|place| view! { " \u{b7} " <span class="place">{place}</span> })}
    }
}
