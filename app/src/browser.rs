//! Thin wrappers over browser APIs for the expiry countdown. Called only
//! from effects and event handlers, which run in the browser, never during
//! server rendering.

use std::cell::Cell;

use leptos::prelude::{document, window};
use wasm_bindgen::JsCast;

use crate::countdown::TabMessage;

/// The browser's clock, in ms since the epoch.
pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// "17:42" in the browser's time zone.
pub fn local_clock_time(epoch_ms: i64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(epoch_ms as f64));
    crate::countdown::format_clock(date.get_hours(), date.get_minutes())
}

/// Rewrites every server-rendered `<time data-time>` (see
/// `components::time`) in the browser's time zone: "today at 14:05"
/// instead of "5 Dec 2026, 13:05 UTC", the exact local time as its title.
/// `now_ms` is the server's clock as this browser best knows it.
pub fn show_times_in_local_zone(now_ms: i64) {
    use crate::readable_time::{exact, readable, TimeKind, Zone};
    let Ok(times) = document().query_selector_all("time[data-time]") else {
        return;
    };
    // `getTimezoneOffset` is minutes west of UTC, at the given instant.
    let offset_at = |ms: f64| {
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms));
        -(date.get_timezone_offset() as i64) * 60
    };
    let now_offset = offset_at(now_ms as f64);
    for i in 0..times.length() {
        let Some(time) = times
            .item(i)
            .and_then(|n| n.dyn_into::<web_sys::Element>().ok())
        else {
            continue;
        };
        let ms = js_sys::Date::parse(&time.get_attribute("datetime").unwrap_or_default());
        if !ms.is_finite() {
            continue;
        }
        let at_offset = offset_at(ms);
        let kind = TimeKind::from_attribute(&time.get_attribute("data-time").unwrap_or_default());
        let zone = Zone::Local {
            at_offset,
            now_offset,
        };
        let at = (ms / 1000.0).floor() as i64;
        time.set_text_content(Some(&readable(at, now_ms.div_euclid(1000), kind, zone)));
        let _ = time.set_attribute("title", &exact(at, Some(at_offset)));
    }
}

/// A full page load (not a client-side route change): the sign-in page
/// must come from the server, with the session's end already applied.
pub fn go_to(url: &str) {
    let _ = window().location().assign(url);
}

/// Path and query of the current page, for `next`.
pub fn current_path() -> String {
    let location = window().location();
    format!(
        "{}{}",
        location.pathname().unwrap_or_default(),
        location.search().unwrap_or_default()
    )
}

pub fn is_visible() -> bool {
    document().visibility_state() == web_sys::VisibilityState::Visible
}

/// The channel all tabs of this origin share.
pub const CHANNEL: &str = "tessera-session";

thread_local! {
    /// Tells this tab's messages from other tabs': a `BroadcastChannel`
    /// also delivers to other channel objects in the same tab.
    static TAB_ID: u32 = (js_sys::Math::random() * f64::from(u32::MAX)) as u32;
    /// When this tab started signing out, so the countdown does not mistake
    /// the session it is ending for one that was revoked.
    static SIGNING_OUT: Cell<Option<i64>> = const { Cell::new(None) };
}

/// Sends `message` to the other tabs, as a query string with this tab's
/// ID (`from`).
pub fn post_to_other_tabs(message: &TabMessage) {
    let Ok(params) = web_sys::UrlSearchParams::new() else {
        return;
    };
    params.append("from", &TAB_ID.with(|id| *id).to_string());
    for (name, value) in message.to_pairs() {
        params.append(name, &value);
    }
    if let Ok(channel) = web_sys::BroadcastChannel::new(CHANNEL) {
        let _ = channel.post_message(&params.to_string());
        channel.close();
    }
}

/// The message in `data`, unless this tab sent it.
pub fn message_from_other_tab(data: &str) -> Option<TabMessage> {
    let params = web_sys::UrlSearchParams::new_with_str(data).ok()?;
    if params.get("from")? == TAB_ID.with(|id| *id).to_string() {
        return None;
    }
    TabMessage::from_pairs(|name| params.get(name))
}

pub fn set_signing_out(on: bool) {
    SIGNING_OUT.with(|since| since.set(on.then(now_ms)));
}

pub fn is_signing_out() -> bool {
    SIGNING_OUT.with(Cell::get).is_some()
}

/// A live session was reported by a request sent at `sent_ms`: if that was
/// after the sign-out began, the sign-out failed and the countdown goes on
/// as before. An answer to a request sent earlier (still in flight when
/// the sign-out began) proves nothing: the flag stays, or a later check
/// would read the ending session as "ended elsewhere" and race the
/// sign-out's own page (seen once in CI).
pub fn session_alive_as_of(sent_ms: i64) {
    SIGNING_OUT.with(|since| {
        if since.get().is_some_and(|began| sent_ms >= began) {
            since.set(None);
        }
    });
}

/// Unsaved form text, kept in this tab's `sessionStorage` when the session
/// ends and put back after signing in again (WCAG 2.2.5). Only forms marked
/// `data-keep-draft`, and never password fields.
pub mod drafts {
    use super::*;

    fn key(username: &str, form_id: &str) -> String {
        format!("tessera-draft:{username}:{form_id}")
    }

    fn storage() -> Option<web_sys::Storage> {
        window().session_storage().ok().flatten()
    }

    fn fields(form: &web_sys::Element) -> Vec<web_sys::Element> {
        let Ok(list) = form.query_selector_all("input[name], textarea[name]") else {
            return Vec::new();
        };
        (0..list.length())
            .filter_map(|i| list.item(i))
            .filter_map(|node| node.dyn_into::<web_sys::Element>().ok())
            .collect()
    }

    fn value_of(field: &web_sys::Element) -> Option<String> {
        if let Some(input) = field.dyn_ref::<web_sys::HtmlInputElement>() {
            let kind = input.type_();
            let keep = !matches!(kind.as_str(), "password" | "hidden" | "submit" | "file");
            return keep.then(|| input.value());
        }
        field
            .dyn_ref::<web_sys::HtmlTextAreaElement>()
            .map(|t| t.value())
    }

    fn set_value(field: &web_sys::Element, value: &str) {
        if let Some(input) = field.dyn_ref::<web_sys::HtmlInputElement>() {
            input.set_value(value);
        } else if let Some(textarea) = field.dyn_ref::<web_sys::HtmlTextAreaElement>() {
            textarea.set_value(value);
        }
    }

    /// Keeps the text of every `form[data-keep-draft][id]` on the page.
    pub fn save_all(username: &str) {
        let (Some(storage), Ok(forms)) = (
            storage(),
            document().query_selector_all("form[data-keep-draft][id]"),
        ) else {
            return;
        };
        for i in 0..forms.length() {
            let Some(form) = forms
                .item(i)
                .and_then(|n| n.dyn_into::<web_sys::Element>().ok())
            else {
                continue;
            };
            // Encoded by the browser as a query string (no JSON code in
            // the bundle).
            let Ok(values) = web_sys::UrlSearchParams::new() else {
                return;
            };
            for field in fields(&form) {
                if let (Some(name), Some(value)) = (field.get_attribute("name"), value_of(&field)) {
                    values.append(&name, &value);
                }
            }
            let _ = storage.set_item(
                &key(username, &form.id()),
                &String::from(values.to_string()),
            );
        }
    }

    /// Puts kept text back into the form and forgets it. Returns whether
    /// there was anything to restore.
    pub fn restore(username: &str, form_id: &str) -> bool {
        let (Some(storage), Some(form)) = (storage(), document().get_element_by_id(form_id)) else {
            return false;
        };
        let key = key(username, form_id);
        let Ok(Some(kept)) = storage.get_item(&key) else {
            return false;
        };
        let _ = storage.remove_item(&key);
        let Ok(values) = web_sys::UrlSearchParams::new_with_str(&kept) else {
            return false;
        };
        for field in fields(&form) {
            if let (Some(name), Some(_)) = (field.get_attribute("name"), value_of(&field)) {
                if let Some(value) = values.get(&name) {
                    set_value(&field, &value);
                }
            }
        }
        true
    }
}

/// How long after a form sent by the browser (one that leaves the page) a
/// "not signed in" is still put down to it: the server answers within its
/// request timeout (30 s by default), and the page is gone once it has.
const LEAVING_FOR_MS: i64 = 35_000;

/// Whether something this page sent may be moving the session to a new ID
/// right now, so a "not signed in" answer may only mean that the answer
/// carrying the new cookie has not arrived yet: a request of the page still
/// under way, or a form the browser is sending (the page is being left).
/// Both are recorded by the shell's inline script, from before hydration.
pub fn session_may_be_moving(now_ms: i64) -> bool {
    let Some(html) = document().document_element() else {
        return false;
    };
    // Whole numbers (a count, `Date.now()`): parsed as integers, since
    // float parsing would add ~13 KB to the wasm.
    let number = |name: &str| html.get_attribute(name).and_then(|v| v.parse::<i64>().ok());
    let requests = number("data-requests").unwrap_or(0);
    let leaving =
        number("data-left-at").is_some_and(|at| now_ms.saturating_sub(at) < LEAVING_FOR_MS);
    requests > 0 || leaving
}

/// While the form `form_id` (the sign-out form) is being sent, this tab is
/// signing out: its countdown must not read the ending session as
/// "ended elsewhere". The other tabs are told by the page the sign-out
/// leads to (`LoginForm`), once the session is really gone: told earlier,
/// they could load a page with the old session still alive.
pub fn mark_signing_out_on_submit(form_id: &str) {
    if let Some(form) = document().get_element_by_id(form_id) {
        listen(&form, "submit", |_| set_signing_out(true));
    }
}

/// Sends the form `form_id` as its submit button would (its submit
/// listeners run, then the browser posts it and follows the answer).
pub fn submit_form(form_id: &str) {
    if let Some(form) = by_id::<web_sys::HtmlFormElement>(form_id) {
        let _ = form.request_submit();
    }
}

/// Puts the text of element `id` (as shown: one line per list item) on
/// the clipboard. `false` if there is no such element or no clipboard.
pub fn copy_text_of(id: &str) -> bool {
    let Some(element) = by_id::<web_sys::HtmlElement>(id) else {
        return false;
    };
    // The promise settles later; a refusal leaves the codes on the page.
    let _ = window()
        .navigator()
        .clipboard()
        .write_text(&element.inner_text());
    true
}

/// The element `id`, as the DOM type `T`.
pub fn by_id<T: JsCast>(id: &str) -> Option<T> {
    document().get_element_by_id(id)?.dyn_into::<T>().ok()
}

/// Calls `handler` on every `event` at `target`, for the life of the page.
pub fn listen(
    target: &web_sys::EventTarget,
    event: &str,
    handler: impl FnMut(web_sys::Event) + 'static,
) {
    let closure = wasm_bindgen::closure::Closure::<dyn FnMut(web_sys::Event)>::new(handler);
    let _ = target.add_event_listener_with_callback(event, closure.as_ref().unchecked_ref());
    closure.forget();
}

/// The browser's WebAuthn API for passkeys, through its JSON helpers
/// (`parseCreationOptionsFromJSON` / `parseRequestOptionsFromJSON` /
/// `toJSON`): the server's options in, the credential's JSON out. A few
/// lines of JavaScript instead of the web-sys WebAuthn surface (Wasm size).
pub mod webauthn {
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen(inline_js = "
export async function passkeyCreate(options) {
  const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(JSON.parse(options).publicKey);
  const credential = await navigator.credentials.create({ publicKey });
  return JSON.stringify(credential.toJSON());
}
export async function passkeyGet(options) {
  const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(JSON.parse(options).publicKey);
  const credential = await navigator.credentials.get({ publicKey });
  return JSON.stringify(credential.toJSON());
}
export function passkeysSupported() {
  return typeof PublicKeyCredential !== 'undefined'
    && typeof PublicKeyCredential.parseRequestOptionsFromJSON === 'function';
}")]
    extern "C" {
        #[wasm_bindgen(catch, js_name = passkeyCreate)]
        async fn passkey_create(options: &str) -> Result<JsValue, JsValue>;
        #[wasm_bindgen(catch, js_name = passkeyGet)]
        async fn passkey_get(options: &str) -> Result<JsValue, JsValue>;
        #[wasm_bindgen(js_name = passkeysSupported)]
        pub fn supported() -> bool;
    }

    /// What the user is told when the browser gives no credential (they
    /// cancelled, timed out, or have no matching passkey).
    pub const CANCELLED: &str =
        "No passkey was used (cancelled, or none found on this device). You can try again or use another way.";

    /// Creates a passkey (`register`) or uses one; the credential's JSON.
    pub async fn run(options: &str, register: bool) -> Result<String, String> {
        let answer = if register {
            passkey_create(options).await
        } else {
            passkey_get(options).await
        };
        answer
            .ok()
            .and_then(|json| json.as_string())
            .ok_or_else(|| CANCELLED.to_owned())
    }
}
