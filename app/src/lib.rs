//! Tessera: the UI, the server functions, and (behind `ssr`) the
//! server-only security core.
#![forbid(unsafe_code)]
// The release server build (without `erase_components`) computes the full
// view type of the header with its islands, deeper than the default 128.
#![recursion_limit = "256"]

pub mod api;
pub mod app;
pub mod browser;
pub mod components;
pub mod countdown;
pub mod pages;
pub mod readable_time;
pub mod request;
pub mod shared;
pub mod urls;

#[cfg(feature = "ssr")]
pub mod ssr;
