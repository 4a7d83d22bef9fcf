//! The expiry countdown: warns before the session ends and lets the user
//! extend it, instead of signing them out abruptly.
//!
//! - Scheduled from the server's deadlines, corrected for clock skew
//!   (`crate::countdown`), never from a polling period.
//! - The status read it uses is passive: it never extends the session.
//! - Re-checks with the server before showing the dialog, when the tab
//!   becomes visible or focused, and at the deadline.
//! - Tabs share deadlines and sign-out over a `BroadcastChannel`.
//! - WCAG 2.2.1: `role="alertdialog"`, focus on Stay signed in, Escape does
//!   not sign out, at least 20 s to respond (`warn_before_secs` >= 20).

use gloo_timers::callback::{Interval, Timeout};
use leptos::ev;
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use send_wrapper::SendWrapper;
use wasm_bindgen::{closure::Closure, JsCast};

use crate::api::{extend_session, session_status, AppError, SessionDeadlines};
use crate::browser::{self, drafts};
use crate::countdown::{self, next_end, phase, EndReason, Phase, TabMessage};

#[derive(Clone, Copy)]
struct Timer {
    deadlines: RwSignal<Option<SessionDeadlines>>,
    /// Server clock minus browser clock, ms.
    offset_ms: RwSignal<i64>,
    /// Browser time, refreshed every second while the dialog shows.
    now_ms: RwSignal<i64>,
    warning: RwSignal<bool>,
    // Browser timers are not `Send`. They only ever exist in the browser;
    // on the server these stay `None`, so no `SendWrapper` is created
    // there (a `SendWrapper` dropped on another server thread panics, and
    // `StoredValue::new_local` would create one during server rendering).
    next_check: StoredValue<Option<SendWrapper<Timeout>>>,
    ticker: StoredValue<Option<SendWrapper<Interval>>>,
    username: StoredValue<String>,
}

impl Timer {
    fn phase(self) -> Option<Phase> {
        let d = self.deadlines.get()?;
        Some(phase(&d, self.offset_ms.get(), self.now_ms.get()))
    }

    /// Asks the server (passively) and reschedules.
    fn refresh(self) {
        spawn_local(async move {
            let sent = browser::now_ms();
            let answer = session_status().await;
            self.accept(answer, sent, browser::now_ms(), true);
        });
    }

    /// False once the component is gone (a late answer must do nothing).
    fn mounted(self) -> bool {
        self.username.try_with_value(|_| ()).is_some()
    }

    fn accept(
        self,
        answer: Result<SessionDeadlines, AppError>,
        sent: i64,
        received: i64,
        tell_tabs: bool,
    ) {
        if !self.mounted() {
            return;
        }
        match answer {
            Ok(d) => {
                self.offset_ms
                    .set(countdown::clock_offset_ms(d.server_now_ms, sent, received));
                self.adopt(d);
                browser::set_signing_out(false);
                if tell_tabs {
                    browser::post_to_other_tabs(&TabMessage::Deadlines(d));
                }
            }
            // Gone earlier than expected (signed out elsewhere, revoked,
            // server settings changed): the same path as expiry.
            Err(AppError::Unauthenticated) => self.end(),
            // The server cannot be reached: it still enforces expiry; ask
            // again soon.
            Err(_) => self.check_in(15_000),
        }
    }

    fn adopt(self, d: SessionDeadlines) {
        self.deadlines.set(Some(d));
        self.schedule();
    }

    fn schedule(self) {
        let Some(d) = self.deadlines.get_untracked() else {
            return;
        };
        let now = browser::now_ms();
        self.now_ms.set(now);
        match phase(&d, self.offset_ms.get_untracked(), now) {
            Phase::Quiet { warn_in_ms } => {
                self.hide();
                // At warning time, ask the server first: activity in another
                // tab may have moved the deadline.
                self.check_in(warn_in_ms);
            }
            Phase::Warning { remaining_ms, .. } => {
                self.show();
                self.check_in(remaining_ms);
            }
            Phase::Ended { .. } => self.verify_end(),
        }
    }

    fn check_in(self, delay_ms: i64) {
        let delay = u32::try_from(delay_ms.clamp(0, i64::from(i32::MAX))).unwrap_or(0);
        self.next_check
            .set_value(Some(SendWrapper::new(Timeout::new(delay, move || {
                self.refresh()
            }))));
    }

    fn show(self) {
        self.warning.set(true);
        if self.ticker.with_value(Option::is_none) {
            self.ticker
                .set_value(Some(SendWrapper::new(Interval::new(1_000, move || {
                    self.now_ms.set(browser::now_ms());
                    if matches!(self.phase(), Some(Phase::Ended { .. })) {
                        self.ticker.set_value(None);
                        self.verify_end();
                    }
                }))));
        }
    }

    fn hide(self) {
        self.warning.set(false);
        self.ticker.set_value(None);
    }

    /// The deadline has passed by the browser's reckoning: confirm with the
    /// server once (another tab may have extended), then leave.
    fn verify_end(self) {
        spawn_local(async move {
            let sent = browser::now_ms();
            match session_status().await {
                Ok(d)
                    if !matches!(
                        phase(
                            &d,
                            countdown::clock_offset_ms(d.server_now_ms, sent, browser::now_ms()),
                            browser::now_ms()
                        ),
                        Phase::Ended { .. }
                    ) =>
                {
                    self.accept(Ok(d), sent, browser::now_ms(), false)
                }
                _ => self.end(),
            }
        });
    }

    fn ended_because(self) -> Option<EndReason> {
        let d = self.deadlines.get_untracked()?;
        match phase(&d, self.offset_ms.get_untracked(), browser::now_ms()) {
            Phase::Ended { reason } => Some(reason),
            _ => None,
        }
    }

    /// Keeps unsaved text, then goes to the sign-in page with the reason.
    fn end(self) {
        if !self.mounted() || browser::is_signing_out() {
            return;
        }
        self.hide();
        self.next_check.set_value(None);
        drafts::save_all(&self.username.get_value());
        browser::go_to(&countdown::sign_in_url(
            &browser::current_path(),
            self.ended_because(),
        ));
    }

    fn extend(self) {
        spawn_local(async move {
            let sent = browser::now_ms();
            let answer = extend_session().await;
            self.accept(answer, sent, browser::now_ms(), true);
        });
    }

    /// "Sign out now": the header's sign-out form is sent, as if its button
    /// was pressed.
    fn sign_out(self) {
        browser::submit_form(SIGN_OUT_FORM_ID);
    }

    fn on_tab_message(self, message: TabMessage) {
        if !self.mounted() {
            return;
        }
        match message {
            TabMessage::Deadlines(d) => self.adopt(d),
            TabMessage::SignedOut => browser::go_to("/login?reason=signed_out"),
        }
    }

    /// Starts listening to other tabs and to visibility; stops on unmount.
    fn listen(self) {
        let Ok(channel) = web_sys::BroadcastChannel::new(browser::CHANNEL) else {
            return;
        };
        let on_message =
            Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
                if let Some(message) = event
                    .data()
                    .as_string()
                    .as_deref()
                    .and_then(browser::message_from_other_tab)
                {
                    self.on_tab_message(message);
                }
            });
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        let channel = SendWrapper::new((channel, on_message));

        // `visibilitychange` bubbles from the document to the window.
        let visible = window_event_listener_untyped("visibilitychange", move |_| {
            if browser::is_visible() {
                self.refresh();
            }
        });
        let focused = window_event_listener(ev::focus, move |_| self.refresh());
        on_cleanup(move || {
            visible.remove();
            focused.remove();
            let (channel, _on_message) = channel.take();
            channel.close();
        });
    }

    fn on_keydown(self, event: ev::KeyboardEvent, buttons: [NodeRef<html::Button>; 2]) {
        match event.key().as_str() {
            // Escape must not sign anyone out; it does nothing here.
            "Escape" => event.prevent_default(),
            // Keep focus inside the dialog.
            "Tab" => {
                let present: Vec<_> = buttons.iter().filter_map(|b| b.get()).collect();
                if present.len() <= 1 {
                    event.prevent_default();
                    return;
                }
                let active = document().active_element();
                let first: &web_sys::Element = present[0].as_ref();
                let last: &web_sys::Element = present[present.len() - 1].as_ref();
                let at = |e: &web_sys::Element| active.as_ref() == Some(e);
                if event.shift_key() && at(first) {
                    event.prevent_default();
                    let _ = present[present.len() - 1].focus();
                } else if !event.shift_key() && at(last) {
                    event.prevent_default();
                    let _ = present[0].focus();
                }
            }
            _ => {}
        }
    }
}

/// An island: the only part of a signed-in page that runs all the time.
/// The header's sign-out form (`header::SignOutButton`): a plain form that
/// this island watches and sends ("Sign out now").
pub const SIGN_OUT_FORM_ID: &str = "sign-out-form";

#[island]
pub fn SessionTimer(username: String) -> impl IntoView {
    let timer = Timer {
        deadlines: RwSignal::new(None),
        offset_ms: RwSignal::new(0),
        now_ms: RwSignal::new(0),
        warning: RwSignal::new(false),
        next_check: StoredValue::new(None),
        ticker: StoredValue::new(None),
        username: StoredValue::new(username),
    };
    // Effects run only in the browser, after hydration.
    Effect::new(move |started: Option<()>| {
        if started.is_none() {
            timer.listen();
            timer.refresh();
            browser::mark_signing_out_on_submit(SIGN_OUT_FORM_ID);
        }
    });

    let stay = NodeRef::<html::Button>::new();
    let leave = NodeRef::<html::Button>::new();
    // Focus moves to Stay signed in (or Sign out now when nothing can be
    // extended) as soon as the dialog shows.
    Effect::new(move || {
        if timer.warning.get() {
            match (stay.get(), leave.get()) {
                (Some(button), _) | (None, Some(button)) => {
                    let _ = button.focus();
                }
                _ => {}
            }
        }
    });

    let warning = move || match timer.phase() {
        Some(Phase::Warning {
            remaining_ms,
            reason,
        }) => {
            let ends_local = timer
                .deadlines
                .get()
                .map(|d| browser::local_clock_time(next_end(&d).0 - timer.offset_ms.get()))
                .unwrap_or_default();
            Some((
                countdown::warning_text(remaining_ms, reason, &ends_local),
                reason,
            ))
        }
        _ => None,
    };
    let can_extend = move || matches!(warning(), Some((_, EndReason::Idle)));

    view! {
        <Show when=move || timer.warning.get()>
            <div class="dialog-backdrop">
                <div
                    class="dialog"
                    id="session-warning"
                    role="alertdialog"
                    aria-modal="true"
                    aria-labelledby="session-warning-title"
                    aria-describedby="session-warning-text"
                    on:keydown=move |event| timer.on_keydown(event, [stay, leave])
                >
                    <h2 id="session-warning-title">"Are you still there?"</h2>
                    <p id="session-warning-text">{move || warning().map(|(text, _)| text)}</p>
                    <div class="actions">
                        <Show when=can_extend>
                            <button id="stay-signed-in" node_ref=stay on:click=move |_| timer.extend()>
                                "Stay signed in"
                            </button>
                        </Show>
                        <button id="sign-out-now" class="secondary" node_ref=leave on:click=move |_| timer.sign_out()>
                            "Sign out now"
                        </button>
                    </div>
                </div>
            </div>
        </Show>
    }
}
