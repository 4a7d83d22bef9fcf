//! Several servers on one PostgreSQL at the speed of one (issue 24): each
//! keeps its session cache, and hears of every other server's writes.
//!
//! A task per server listens on `db::notifications::CHANNEL`: a changed
//! session (`s:`) or user (`u:`) is forgotten at once. It also sends
//! itself a heartbeat every quarter of `[session] cache_staleness_ms`;
//! when one comes back, every notification committed before it was sent
//! has been heard, and the cache may answer until that send time plus the
//! staleness bound (`SessionCache::trust_until`). Hence the guarantee the
//! docs state: a write committed on one server is never answered from
//! another's cache later than the bound after it (usually it is forgotten
//! within a millisecond or two).
//!
//! Correctness first: while the listener is not connected (start-up, a
//! dropped connection, PostgreSQL restarting) the cache is flushed and
//! answers nothing; every request reads the database. After connecting
//! and subscribing it flushes again (anything loaded meanwhile may have
//! missed a notification) and waits for its first heartbeat.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use sqlx::postgres::PgPool;

use super::cache::SessionCache;
use crate::ssr::db::notifications;

/// What one server's listener has done, for tests and the logs.
#[derive(Debug)]
pub struct ListenerStats {
    /// Connections made (a reconnect adds one).
    pub connections: AtomicU64,
    /// Session or user notifications applied.
    pub invalidations: AtomicU64,
    /// When the last heartbeat heard was sent: nanoseconds since `since`.
    heard_sent_at: AtomicU64,
    since: Instant,
}

impl Default for ListenerStats {
    fn default() -> Self {
        Self {
            connections: AtomicU64::new(0),
            invalidations: AtomicU64::new(0),
            heard_sent_at: AtomicU64::new(0),
            since: Instant::now(),
        }
    }
}

impl ListenerStats {
    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.since).as_nanos()).unwrap_or(u64::MAX)
    }

    fn heard(&self, sent_at: Instant) {
        self.heard_sent_at
            .fetch_max(self.nanos(sent_at), Ordering::AcqRel);
    }
}

/// The running listener of one server.
#[derive(Debug, Clone)]
pub struct CrossServer {
    /// This server's name on the channel and in `pg_stat_activity`
    /// (`application_name` = "tessera cache <server>").
    pub server: String,
    pub stats: Arc<ListenerStats>,
}

impl CrossServer {
    pub fn application_name(&self) -> String {
        format!("tessera cache {}", self.server)
    }

    /// Waits until every notification committed before this call has been
    /// applied (a heartbeat sent after it has come back), at most
    /// `within`; whether it was. How a test, or anything that wrote the
    /// database outside this server, waits on the notification.
    pub async fn caught_up(&self, within: Duration) -> bool {
        let asked = self.stats.nanos(Instant::now());
        let deadline = Instant::now() + within;
        while self.stats.heard_sent_at.load(Ordering::Acquire) <= asked {
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        true
    }
}

/// Starts listening for `cache` (a `SessionCache::shared`) on the database
/// at `url`, and sending heartbeats on a connection of their own.
///
/// Both run on a thread of their own with its own small runtime: a
/// notification is applied as soon as it arrives, not after the request
/// tasks queued before it on a busy server (a sign-out answered by one
/// server must reach the others' caches before a replay of its cookie
/// does). The thread ends when the cache does (the server has stopped).
pub fn start(
    url: String,
    cache: &Arc<SessionCache>,
    staleness: Duration,
) -> Result<CrossServer, sqlx::Error> {
    notifications::check_url(&url)?;
    let this = CrossServer {
        server: format!("{:016x}", rand::random::<u64>()),
        stats: Arc::default(),
    };
    let cache = Arc::downgrade(cache);
    let runs = this.clone();
    std::thread::Builder::new()
        .name("session-cache-listener".to_owned())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    tracing::error!(%error, "no runtime for the session cache listener");
                    return;
                }
            };
            runtime.block_on(run(url, runs, cache, staleness));
        })
        .map_err(sqlx::Error::Io)?;
    Ok(this)
}

/// Heartbeats sent and not yet heard: sequence number and when.
type Sent = Arc<Mutex<VecDeque<(u64, Instant)>>>;

async fn run(url: String, this: CrossServer, cache: Weak<SessionCache>, staleness: Duration) {
    let sent = Sent::default();
    let beat = (staleness / 4).max(Duration::from_millis(10));
    let name = format!("{} heartbeat", this.application_name());
    let sender = match notifications::heartbeat_sender(&url, &name, beat) {
        Ok(sender) => sender,
        Err(error) => {
            tracing::error!(%error, "session cache heartbeats cannot start; reading through");
            return;
        }
    };
    let server = this.server.clone();
    tokio::select! {
        () = send_heartbeats(sender, &server, &sent, beat, &cache) => {}
        () = listen(&url, &this, &cache, &sent, staleness) => {}
    }
}

/// Until the cache is gone.
async fn send_heartbeats(
    pool: PgPool,
    server: &str,
    sent: &Sent,
    every: Duration,
    cache: &Weak<SessionCache>,
) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for n in 1.. {
        ticker.tick().await;
        if cache.strong_count() == 0 {
            return;
        }
        {
            let mut sent = sent.lock().unwrap_or_else(|p| p.into_inner());
            // Unheard ones stay a while (a slow echo still counts), not
            // for ever (a database that is gone).
            while sent.len() >= 64 {
                sent.pop_front();
            }
            sent.push_back((n, Instant::now()));
        }
        // A failure (the database is down) only means no echo: trust
        // lapses on its own. Each beat is bounded so beats do not queue.
        match tokio::time::timeout(every, notifications::heartbeat(&pool, server, n)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::debug!(%error, "cache heartbeat not sent"),
            Err(_) => tracing::debug!("cache heartbeat timed out"),
        }
    }
}

/// Until the cache is gone.
async fn listen(
    url: &str,
    this: &CrossServer,
    cache: &Weak<SessionCache>,
    sent: &Sent,
    staleness: Duration,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match cache.upgrade() {
            Some(cache) => cache.distrust(),
            None => return,
        }
        let mut listener = match notifications::listen(url, &this.application_name()).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "session cache listener cannot connect; reading through");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        // Subscribed: anything loaded before now may have missed a
        // notification.
        match cache.upgrade() {
            Some(cache) => cache.flush(),
            None => return,
        }
        let connections = this.stats.connections.fetch_add(1, Ordering::Relaxed) + 1;
        if connections > 1 {
            tracing::info!("session cache listener reconnected");
        }
        loop {
            // Silence longer than this, not even our own heartbeat: the
            // connection is dead though the socket has not said so.
            let quiet_limit = (staleness * 4).max(Duration::from_secs(2));
            match tokio::time::timeout(quiet_limit, listener.try_recv()).await {
                Ok(Ok(Some(notification))) => match cache.upgrade() {
                    Some(cache) => apply(notification.payload(), this, &cache, sent, staleness),
                    None => return,
                },
                Ok(Ok(None)) | Ok(Err(_)) | Err(_) => {
                    tracing::warn!(
                        "session cache listener lost its connection; reading through until it is back"
                    );
                    break;
                }
            }
        }
    }
}

fn apply(
    payload: &str,
    this: &CrossServer,
    cache: &SessionCache,
    sent: &Sent,
    staleness: Duration,
) {
    let counted = || {
        this.stats.invalidations.fetch_add(1, Ordering::Relaxed);
    };
    match payload.split_once(':') {
        Some(("s", hex)) => match storage_key_of(hex) {
            Some(key) => {
                cache.forget(&key);
                counted();
            }
            None => cache.flush(),
        },
        Some(("u", id)) => match id.parse::<i64>() {
            Ok(user_id) => {
                cache.forget_user(user_id);
                counted();
            }
            Err(_) => cache.flush(),
        },
        Some(("h", beat)) => {
            let Some((server, n)) = beat.split_once(':') else {
                return;
            };
            if server != this.server {
                return;
            }
            let Ok(n) = n.parse::<u64>() else {
                return;
            };
            let mut sent = sent.lock().unwrap_or_else(|p| p.into_inner());
            while let Some(&(m, at)) = sent.front() {
                if m > n {
                    break;
                }
                sent.pop_front();
                if m == n {
                    cache.trust_until(at + staleness);
                    this.stats.heard(at);
                }
            }
        }
        // Not ours to read: be safe.
        _ => cache.flush(),
    }
}

fn storage_key_of(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> (CrossServer, SessionCache, Sent) {
        let this = CrossServer {
            server: "00ff".to_owned(),
            stats: Arc::default(),
        };
        (this, SessionCache::shared(10), Sent::default())
    }

    #[test]
    fn only_its_own_heartbeat_that_it_sent_makes_the_cache_trusted() {
        let (this, cache, sent) = fixture();
        let bound = Duration::from_secs(60);
        sent.lock().unwrap().push_back((1, Instant::now()));
        sent.lock().unwrap().push_back((2, Instant::now()));
        apply("h:0abc:1", &this, &cache, &sent, bound);
        assert!(!cache.is_trusted(), "another server's heartbeat");
        apply("h:00ff:0", &this, &cache, &sent, bound);
        assert!(!cache.is_trusted(), "never sent");
        apply("h:00ff:1", &this, &cache, &sent, bound);
        assert!(cache.is_trusted());
        assert_eq!(sent.lock().unwrap().len(), 1, "2 is still awaited");
    }

    #[test]
    fn notifications_forget_what_they_name_and_nonsense_flushes() {
        assert_eq!(storage_key_of(&"0a".repeat(32)), Some([10; 32]));
        assert_eq!(storage_key_of("0a"), None);
        assert_eq!(storage_key_of(&"zz".repeat(32)), None);
        let (this, cache, sent) = fixture();
        let bound = Duration::from_secs(60);
        apply(
            &format!("s:{}", "0a".repeat(32)),
            &this,
            &cache,
            &sent,
            bound,
        );
        apply("u:7", &this, &cache, &sent, bound);
        assert_eq!(this.stats.invalidations.load(Ordering::Relaxed), 2);
        for nonsense in ["s:xyz", "u:abc", "what", "x:1"] {
            apply(nonsense, &this, &cache, &sent, bound);
        }
        assert_eq!(this.stats.invalidations.load(Ordering::Relaxed), 2);
    }
}
