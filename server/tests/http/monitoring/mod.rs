//! The audit log, the sessions page and the activity page (issue 12),
//! from the outside.

mod activity;
pub(crate) mod alerts;
mod audit;
mod binding;
mod rotations;
mod sessions_page;

use reqwest::StatusCode;
use sqlx::Row;

use crate::helpers::{new_sid, spawn_app, spawn_app_with, PASSWORD};

fn between<'a>(html: &'a str, start: &str, end: &str) -> Vec<&'a str> {
    html.split(start)
        .skip(1)
        .filter_map(|rest| rest.split(end).next())
        .collect()
}

const FIREFOX_ON_LINUX: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const CHROME_132_ON_LINUX: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 \
     (KHTML, like Gecko) Chrome/132.0.0.0 Safari/537.36";

const CHROME_ON_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
     (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

async fn get_as(app: &crate::helpers::TestApp, path: &str, sid: &str, user_agent: &str) -> u16 {
    app.http
        .get(app.url(path))
        .header("cookie", format!("__Host-sid={sid}"))
        .header("user-agent", user_agent)
        .send()
        .await
        .expect("GET")
        .status()
        .as_u16()
}
