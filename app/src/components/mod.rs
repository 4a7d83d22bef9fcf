pub mod address;
pub mod event_words;
pub mod form;
pub mod header;
pub mod passkey_button;
pub mod session_timer;
pub mod step_up_dialog;
pub mod time;
