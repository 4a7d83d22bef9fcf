pub mod form;
pub mod header;
pub mod session_timer;
