//! The Tessera server: builds the axum app around the Leptos routes.
#![forbid(unsafe_code)]

pub mod argon2_rate;
pub mod cli;
pub mod maintenance;
pub mod router;
pub mod serve;
pub mod startup;
pub mod telemetry;
pub mod tls;
