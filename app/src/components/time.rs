//! A timestamp as people read it (issue 27): `<time datetime>` with words
//! that hold in any time zone ("3 minutes ago", "5 Dec 2026, 01:30 UTC"),
//! rewritten in the reader's zone by the countdown island
//! (`browser::show_times_in_local_zone`). Every time a page shows goes
//! through here.

use leptos::prelude::*;

use crate::readable_time::{exact, machine_readable, readable, TimeKind, Zone};

#[component]
pub fn Time(
    /// Unix seconds.
    at: i64,
    #[prop(default = TimeKind::Past)] kind: TimeKind,
) -> impl IntoView {
    let words = readable(at, crate::request::server_now(), kind, Zone::Utc);
    view! {
        <time datetime=machine_readable(at) data-time=kind.attribute() title=exact(at, None)>
            {words}
        </time>
    }
}
