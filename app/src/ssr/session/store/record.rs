//! Between a row and a tower-sessions record: the reserved keys of the
//! record (see the store's module doc), splitting a record into the row's
//! columns, and a loaded row back into a record.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use serde_json::Value;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store;

use super::backend::{ClientInfo, SessionOwner};
use crate::ssr::session::cache::CachedRow;
use crate::ssr::session::policy::Deadlines;

pub const META_KEY: &str = "_meta";
pub const CLIENT_KEY: &str = "_client";
/// Where a rotated session was first used: the new row keeps the old
/// row's first address and user agent (issue 27: they were lost).
pub const FIRST_CLIENT_KEY: &str = "_client_first";
pub const LOADED_KEY: &str = "_loaded";
pub const OWNER_KEY: &str = "_owner";
pub const USER_AGENT_KEY: &str = "_user_agent";
pub const IP_KEY: &str = "_ip";
/// The sign-in's device binding (issue 26), read with the row from its own
/// table (`DeviceBinding`). Never written back: a save of the session's
/// data cannot change or drop it.
pub const BINDING_KEY: &str = "_binding";
/// The key whose `user_id` field is copied into the indexed column.
pub const AUTH_KEY: &str = "auth";

pub(super) fn store_error<E: std::error::Error + 'static>(e: E) -> session_store::Error {
    if crate::ssr::error::is_database_unavailable(&e) {
        session_store::Error::Backend(crate::ssr::error::DATABASE_UNAVAILABLE.to_owned())
    } else {
        session_store::Error::Backend(e.to_string())
    }
}

/// Keeps stored strings bounded whatever a client sends.
pub(super) fn bounded(s: Option<&str>, max: usize) -> Option<String> {
    s.map(|s| s.chars().take(max).collect())
}

/// A loaded row and its owner's, as `db::sessions::load` reads them.
pub(super) use crate::ssr::db::sessions::SessionWithOwner as LoadedRow;

pub(super) struct RowParts {
    pub(super) user_id: Option<i64>,
    pub(super) sign_in_id: Option<String>,
    pub(super) client: ClientInfo,
    /// `None` for a new sign-in: first is this client.
    pub(super) first_client: Option<ClientInfo>,
    pub(super) data: String,
}

pub(super) fn split_record(record: &Record) -> session_store::Result<RowParts> {
    // Sorted, so that the same data always serialises to the same text (the
    // compare-and-swap in `save` compares texts).
    let mut data: BTreeMap<&str, &Value> = BTreeMap::new();
    let mut client = ClientInfo::default();
    let mut first_client = None;
    let read_client = |value: &Value| {
        ClientInfo::deserialize(value).map_err(|e| session_store::Error::Encode(e.to_string()))
    };
    for (key, value) in &record.data {
        match key.as_str() {
            META_KEY | LOADED_KEY | OWNER_KEY | USER_AGENT_KEY | IP_KEY | BINDING_KEY => {}
            CLIENT_KEY => client = read_client(value)?,
            FIRST_CLIENT_KEY => first_client = Some(read_client(value)?),
            other => {
                data.insert(other, value);
            }
        }
    }
    let auth = record.data.get(AUTH_KEY);
    let user_id = auth
        .and_then(|auth| auth.get("user_id"))
        .and_then(Value::as_i64);
    let sign_in_id = auth
        .and_then(|auth| auth.get("sign_in_id"))
        .and_then(Value::as_str)
        .map(|id| bounded(Some(id), 64))
        .unwrap_or_default();
    let data =
        serde_json::to_string(&data).map_err(|e| session_store::Error::Encode(e.to_string()))?;
    Ok(RowParts {
        user_id,
        sign_in_id,
        client: ClientInfo {
            ip: bounded(client.ip.as_deref(), 64),
            user_agent: bounded(client.user_agent.as_deref(), 512),
        },
        first_client: first_client.map(|first| ClientInfo {
            ip: bounded(first.ip.as_deref(), 64),
            user_agent: bounded(first.user_agent.as_deref(), 512),
        }),
        data,
    })
}

impl TryFrom<LoadedRow> for CachedRow {
    type Error = session_store::Error;

    /// Builds the record's data with the reserved keys (see the module
    /// comment) once per database read; a cache hit copies it.
    fn try_from(row: LoadedRow) -> session_store::Result<Self> {
        let deadlines = Deadlines {
            created_at: row.created_at,
            last_seen_at: row.last_seen_at,
            idle_expires_at: row.idle_expires_at,
            absolute_expires_at: row.absolute_expires_at,
        };
        let mut data: HashMap<String, Value> = serde_json::from_str(&row.data)
            .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        data.insert(META_KEY.to_owned(), deadlines_to_json(&deadlines));
        data.insert(LOADED_KEY.to_owned(), Value::String(row.data));
        if let Some(user_agent) = row.user_agent_last {
            data.insert(USER_AGENT_KEY.to_owned(), Value::String(user_agent));
        }
        if let Some(ip) = row.ip_last {
            data.insert(IP_KEY.to_owned(), Value::String(ip));
        }
        let binding = row.bound_at.map(|bound_at| DeviceBinding {
            bound_at,
            cookie: row.cookie_hash.zip(row.cookie_expires_at).map(hex_of),
            previous: row
                .previous_cookie_hash
                .zip(row.previous_cookie_expires_at)
                .map(hex_of),
        });
        if let Some(binding) = binding {
            if let Ok(value) = serde_json::to_value(binding) {
                data.insert(BINDING_KEY.to_owned(), value);
            }
        }
        if let (Some(username), Some(credential_epoch)) = (row.username, row.credential_epoch) {
            let owner = SessionOwner {
                username,
                credential_epoch,
                display_name: row.display_name.unwrap_or_default(),
                about: row.about.unwrap_or_default(),
                device_notice: row.device_notice,
            };
            data.insert(OWNER_KEY.to_owned(), owner_to_json(owner));
        }
        Ok(CachedRow {
            user_id: row.user_id,
            deadlines,
            record_data: std::sync::Arc::new(data),
        })
    }
}

/// The tower-sessions record of a loaded row.
pub(super) fn record_of(session_id: &Id, row: CachedRow) -> session_store::Result<Record> {
    // tower-sessions wants an expiry date; the deadlines in `META_KEY` are
    // what count. Settings bound the timeouts, so this cannot fail in
    // practice; if it did, the row would be refused, not trusted.
    let expiry_date = time::OffsetDateTime::from_unix_timestamp(row.deadlines.idle_expires_at)
        .map_err(store_error)?;
    Ok(Record {
        id: *session_id,
        data: std::sync::Arc::unwrap_or_clone(row.record_data),
        expiry_date,
    })
}

/// The owner as a JSON array (cheaper to copy and read than an object:
/// it is copied on every request).
fn owner_to_json(owner: SessionOwner) -> Value {
    Value::Array(vec![
        Value::String(owner.username),
        Value::from(owner.credential_epoch),
        Value::String(owner.display_name),
        Value::String(owner.about),
        owner.device_notice.map_or(Value::Null, Value::String),
    ])
}

pub fn owner_from_json(value: Value) -> Option<SessionOwner> {
    owner_of_json(&value)
}

/// `owner_from_json` without taking the value.
pub fn owner_of_json(value: &Value) -> Option<SessionOwner> {
    let (username, credential_epoch, display_name, about, device_notice) =
        <(String, i64, String, String, Option<String>)>::deserialize(value).ok()?;
    Some(SessionOwner {
        username,
        credential_epoch,
        display_name,
        about,
        device_notice,
    })
}

pub fn deadlines_to_json(d: &Deadlines) -> Value {
    serde_json::json!([
        d.created_at,
        d.last_seen_at,
        d.idle_expires_at,
        d.absolute_expires_at
    ])
}

pub fn deadlines_from_json(value: &Value) -> Option<Deadlines> {
    let [created_at, last_seen_at, idle_expires_at, absolute_expires_at] =
        <[i64; 4]>::deserialize(value).ok()?;
    Some(Deadlines {
        created_at,
        last_seen_at,
        idle_expires_at,
        absolute_expires_at,
    })
}

/// A sign-in's device binding as each request sees it (issue 26): a
/// request needs the bound cookie (SHA-256 in hex, and until when), or the
/// one before it while it lasts. (The offer before it is the session's
/// own, `AuthState::device_offer`.)
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct DeviceBinding {
    pub bound_at: i64,
    pub cookie: Option<(String, i64)>,
    pub previous: Option<(String, i64)>,
}

fn hex_of((hash, expires_at): (Vec<u8>, i64)) -> (String, i64) {
    (
        hash.iter().map(|b| format!("{b:02x}")).collect(),
        expires_at,
    )
}
