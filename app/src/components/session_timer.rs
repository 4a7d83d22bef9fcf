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
use leptos::prelude::*;
use leptos::task::spawn_local;
use send_wrapper::SendWrapper;
use wasm_bindgen::{closure::Closure, JsCast};
use web_sys::HtmlElement;

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
    // Browser timers are not `Send`; the timer only exists in the browser
    // (made by the island's effect), where there is one thread.
    next_check: StoredValue<Option<SendWrapper<Timeout>>>,
    ticker: StoredValue<Option<SendWrapper<Interval>>>,
    username: StoredValue<String>,
    /// The last answer was "not signed in", not yet confirmed by a second.
    gone_once: StoredValue<bool>,
    /// Keeps the page's times ("3 minutes ago") current.
    times: StoredValue<Option<SendWrapper<Interval>>>,
}

/// How long to wait before asking again after a "not signed in", ms: long
/// enough for an answer that rotated the session to have given the browser
/// its new cookie.
const CONFIRM_AFTER_MS: i64 = 1_000;

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
                self.gone_once.set_value(false);
                self.offset_ms
                    .set(countdown::clock_offset_ms(d.server_now_ms, sent, received));
                self.show_times();
                self.adopt(d);
                browser::session_alive_as_of(sent);
                if tell_tabs {
                    browser::post_to_other_tabs(&TabMessage::Deadlines(d));
                }
            }
            // Gone earlier than expected (signed out elsewhere, revoked,
            // server settings changed): the same path as expiry, once
            // confirmed.
            Err(AppError::Unauthenticated) => self.not_signed_in(),
            // The server cannot be reached: it still enforces expiry; ask
            // again soon.
            Err(_) => self.check_in(15_000),
        }
    }

    /// A "not signed in" answer ends the session here only when nothing
    /// this page sent can explain it, and only once a second answer, asked
    /// for a moment later, agrees. A form post or request of this page that
    /// moved the session to a new ID (a step-up, turning MFA on) makes the
    /// old cookie "not signed in" until its own answer brings the new one;
    /// ending then would send a signed-in user to "Your session has ended".
    fn not_signed_in(self) {
        if browser::session_may_be_moving(browser::now_ms()) {
            self.gone_once.set_value(false);
            self.check_in(CONFIRM_AFTER_MS);
        } else if self.gone_once.get_value() {
            self.end();
        } else {
            self.gone_once.set_value(true);
            self.check_in(CONFIRM_AFTER_MS);
        }
    }

    /// The page's times in this browser's zone, from the server's clock
    /// (a browser clock minutes off must not make "just now" read "in 5
    /// minutes").
    fn show_times(self) {
        browser::show_times_in_local_zone(browser::now_ms() + self.offset_ms.get_untracked());
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
                Err(AppError::Unauthenticated) => self.not_signed_in(),
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

    /// Shows or hides the dialog and writes its text, whenever the phase
    /// changes or (while it shows) every second.
    fn render(self, dialog: Dialog) {
        Effect::new(move |before: Option<(bool, bool)>| {
            let shown = self.warning.get();
            dialog.backdrop.set_hidden(!shown);
            let warning = if shown { self.warning_text() } else { None };
            let can_extend = matches!(warning, Some((_, EndReason::Idle)));
            dialog
                .text
                .set_text_content(warning.as_ref().map(|(text, _)| text.as_str()));
            dialog.stay.set_hidden(!can_extend);
            // Focus moves to Stay signed in (or Sign out now when nothing
            // can be extended) as soon as the dialog shows, and again if
            // Stay signed in goes away.
            if shown && before != Some((true, can_extend)) {
                let _ = if can_extend {
                    &dialog.stay
                } else {
                    &dialog.leave
                }
                .focus();
            }
            (shown, can_extend)
        });
    }

    /// The dialog's text and why the session would end, while it warns.
    fn warning_text(self) -> Option<(String, EndReason)> {
        match self.phase()? {
            Phase::Warning {
                remaining_ms,
                reason,
            } => {
                let ends_local = self
                    .deadlines
                    .get()
                    .map(|d| browser::local_clock_time(next_end(&d).0 - self.offset_ms.get()))
                    .unwrap_or_default();
                Some((
                    countdown::warning_text(remaining_ms, reason, &ends_local),
                    reason,
                ))
            }
            _ => None,
        }
    }

    fn wire_buttons(self, dialog: &Dialog) {
        browser::listen(&dialog.stay, "click", move |_| self.extend());
        browser::listen(&dialog.leave, "click", move |_| self.sign_out());
        let (stay, leave) = (dialog.stay.clone(), dialog.leave.clone());
        browser::listen(&dialog.backdrop, "keydown", move |event| {
            if let Some(event) = event.dyn_ref::<web_sys::KeyboardEvent>() {
                on_keydown(event, &stay, &leave);
            }
        });
    }
}

/// WCAG 2.2.1 / 2.1.2: Escape must not sign anyone out (it does nothing
/// here), and focus stays inside the dialog.
fn on_keydown(event: &web_sys::KeyboardEvent, stay: &HtmlElement, leave: &HtmlElement) {
    match event.key().as_str() {
        "Escape" => event.prevent_default(),
        "Tab" => {
            if stay.hidden() {
                event.prevent_default();
                return;
            }
            let active = document().active_element();
            let at = |e: &HtmlElement| active.as_ref() == Some(e.as_ref());
            if event.shift_key() && at(stay) {
                event.prevent_default();
                let _ = leave.focus();
            } else if !event.shift_key() && at(leave) {
                event.prevent_default();
                let _ = stay.focus();
            }
        }
        _ => {}
    }
}

/// The server-rendered dialog's elements.
#[derive(Clone)]
struct Dialog {
    backdrop: HtmlElement,
    text: HtmlElement,
    stay: HtmlElement,
    leave: HtmlElement,
}

impl Dialog {
    fn find() -> Option<Self> {
        Some(Self {
            backdrop: browser::by_id(DIALOG_ID)?,
            text: browser::by_id("session-warning-text")?,
            stay: browser::by_id("stay-signed-in")?,
            leave: browser::by_id("sign-out-now")?,
        })
    }
}

const DIALOG_ID: &str = "session-warning-backdrop";

/// The header's sign-out form (`header::SignOutButton`): a plain form that
/// this island watches and sends ("Sign out now").
pub const SIGN_OUT_FORM_ID: &str = "sign-out-form";

/// The countdown's dialog, rendered on the server (hidden) and wired in
/// the browser by the `Countdown` island with a few DOM calls. Before
/// issue 9 the island rendered the dialog itself: on the server that made
/// a reactive graph (signals, `Show`) per signed-in page for markup that is
/// never shown there (W1).
#[component]
pub fn SessionTimer(username: String) -> impl IntoView {
    view! {
        <Countdown username>
            <div class="dialog-backdrop" id=DIALOG_ID hidden>
                <div
                    class="dialog"
                    id="session-warning"
                    role="alertdialog"
                    aria-modal="true"
                    aria-labelledby="session-warning-title"
                    aria-describedby="session-warning-text"
                >
                    <h2 id="session-warning-title">"Are you still there?"</h2>
                    <p id="session-warning-text"></p>
                    <div class="actions">
                        <button type="button" id="stay-signed-in">"Stay signed in"</button>
                        <button type="button" id="sign-out-now" class="secondary">"Sign out now"</button>
                    </div>
                </div>
            </div>
        </Countdown>
    }
}

/// The island: the only part of a signed-in page that runs all the time.
#[island]
fn Countdown(username: String, children: Children) -> impl IntoView {
    // Effects run only in the browser, after hydration; the timer's
    // signals are made there, never during server rendering. `untrack`:
    // this effect must run once, whatever the timer reads while starting.
    Effect::new(move |_| untrack(|| start(username.clone())));
    children()
}

fn start(username: String) {
    let Some(dialog) = Dialog::find() else {
        return;
    };
    let timer = Timer {
        deadlines: RwSignal::new(None),
        offset_ms: RwSignal::new(0),
        now_ms: RwSignal::new(0),
        warning: RwSignal::new(false),
        next_check: StoredValue::new(None),
        ticker: StoredValue::new(None),
        username: StoredValue::new(username),
        gone_once: StoredValue::new(false),
        times: StoredValue::new(None),
    };
    // At once (a clock offset follows with the first answer), then each
    // half minute.
    timer.show_times();
    timer
        .times
        .set_value(Some(SendWrapper::new(Interval::new(30_000, move || {
            timer.show_times()
        }))));
    timer.wire_buttons(&dialog);
    timer.render(dialog);
    timer.listen();
    timer.refresh();
    browser::mark_signing_out_on_submit(SIGN_OUT_FORM_ID);
}
