//! The server-only security core: plain Rust, no views.

pub mod access_token;
pub mod accounts;
pub mod admin;
pub mod alerts;
pub mod api_access;
pub mod assets;
pub mod audit;
pub mod clock;
pub mod config;
pub mod db;
pub mod devices;
pub mod error;
pub mod headers;
pub mod keyed_hash;
pub mod limits;
pub mod mfa;
pub mod pages;
pub mod password;
pub mod profile;
pub mod proxy;
pub mod session;
pub mod state;
pub mod throttle;
pub mod web;
