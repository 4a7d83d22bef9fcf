//! Tessera: the UI, the server functions, and (behind `ssr`) the
//! server-only security core.
#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod browser;
pub mod components;
pub mod countdown;
pub mod pages;
pub mod urls;

#[cfg(feature = "ssr")]
pub mod ssr;
