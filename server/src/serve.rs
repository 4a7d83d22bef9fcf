//! The accept loop (issue 13). `axum::serve` does not expose hyper's limits
//! or a bounded shutdown, so connections are served here with hyper's own
//! builder, as axum does it, plus:
//! - a header read timeout (a client trickling its headers, slow loris, is
//!   cut off) and a header size limit (431 beyond it);
//! - TLS (`crate::tls`) when configured, the handshake held to the same
//!   timeout;
//! - graceful shutdown: on the first SIGTERM or SIGINT no new connection is
//!   accepted, idle keep-alive connections are closed, and requests in
//!   flight get `[server] shutdown_grace_secs` to finish; a second signal,
//!   or the end of the grace period, stops at once.

use std::net::{IpAddr, SocketAddr};
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

use app::ssr::config::ServerSettings;
use app::ssr::context::ServedOverTls;

use crate::tls::Certificates;

/// How the server stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Every request in flight was answered.
    Gracefully,
    /// The grace period ended, or a second signal came, first.
    Forced,
}

/// The process's stop requests: the first starts a graceful shutdown, the
/// second forces it.
#[derive(Clone)]
pub struct StopSignals {
    count: watch::Receiver<u32>,
    /// `never`'s sender, kept so that `count` never reports it closed.
    _never: Option<Arc<watch::Sender<u32>>>,
}

/// Stops a server started with `StopSignals::manual`, as one SIGTERM would.
#[derive(Debug, Clone)]
pub struct StopHandle(Arc<watch::Sender<u32>>);

impl StopHandle {
    pub fn stop(&self) {
        self.0.send_modify(|n| *n += 1);
    }
}

impl StopSignals {
    /// SIGTERM (what service managers send) and SIGINT (Ctrl-C).
    pub fn from_os() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        let (tx, count) = watch::channel(0u32);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = interrupt.recv() => {}
                }
                tx.send_modify(|n| *n += 1);
            }
        });
        Ok(Self {
            count,
            _never: None,
        })
    }

    /// Signalled by the returned handle (tests that run the app in-process
    /// and stop it at their end).
    pub fn manual() -> (Self, StopHandle) {
        let (tx, count) = watch::channel(0u32);
        let tx = Arc::new(tx);
        (
            Self {
                count,
                _never: Some(tx.clone()),
            },
            StopHandle(tx),
        )
    }

    /// Never signalled.
    pub fn never() -> Self {
        let (tx, count) = watch::channel(0u32);
        Self {
            count,
            _never: Some(Arc::new(tx)),
        }
    }

    async fn reaches(&mut self, n: u32) {
        let _ = self.count.wait_for(|count| *count >= n).await;
    }
}

/// What each connection is held to.
#[derive(Debug, Clone, Copy)]
struct ConnectionLimits {
    header_timeout: Duration,
    max_header_bytes: usize,
}

/// Open connections per client IP, so that one address cannot take every
/// connection the process can hold. Peers that are trusted proxies carry
/// many clients and are exempt. An IPv6 client is counted by its network
/// (`[login] ipv6_prefix`, review E2): a host picks new addresses in its
/// /64 at will.
struct ConnectionsPerIp {
    max: u32,
    ipv6_prefix: u8,
    exempt: Vec<app::ssr::http::proxy::Network>,
    open: std::sync::Mutex<std::collections::HashMap<IpAddr, u32>>,
}

/// One open connection, counted until dropped.
struct Counted {
    table: Arc<ConnectionsPerIp>,
    ip: IpAddr,
}

impl ConnectionsPerIp {
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Option<Counted>> {
        if self.max == 0 || self.exempt.iter().any(|net| net.contains(ip)) {
            return Some(None);
        }
        let ip = app::ssr::http::proxy::limit_address(ip, self.ipv6_prefix);
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(ip).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(Some(Counted {
            table: self.clone(),
            ip,
        }))
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        let mut open = self.table.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

pub async fn serve(
    listener: TcpListener,
    router: Router,
    settings: &ServerSettings,
    trusted_proxies: Vec<app::ssr::http::proxy::Network>,
    ipv6_prefix: u8,
    mut signals: StopSignals,
    tls: Option<Arc<Certificates>>,
) -> Stopped {
    let per_ip = Arc::new(ConnectionsPerIp {
        max: settings.max_connections_per_ip,
        ipv6_prefix,
        exempt: trusted_proxies,
        open: Default::default(),
    });
    let limits = ConnectionLimits {
        header_timeout: Duration::from_secs(settings.request_timeout_secs),
        // hyper's minimum buffer is 8 KiB; headers beyond it get 431.
        max_header_bytes: settings.max_header_bytes.max(8192),
    };
    // Each connection holds a receiver; the sender sees them all gone.
    let (close_tx, close_rx) = watch::channel(());
    let (stop_tx, stop_rx) = watch::channel(false);

    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = signals.reaches(1) => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: do not spin.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(counted) = per_ip.admit(peer.ip().to_canonical()) else {
            tracing::warn!(ip = %peer.ip(), "too many connections from one address: closed");
            drop(stream);
            continue;
        };
        let router = router.clone();
        let stop = stop_rx.clone();
        let close_rx = close_rx.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => serve_connection(stream, peer, false, router, limits, stop).await,
                Some(certificates) => {
                    let acceptor = tokio_rustls::TlsAcceptor::from(certificates.current());
                    // The handshake is held to the header timeout too.
                    match tokio::time::timeout(limits.header_timeout, acceptor.accept(stream)).await
                    {
                        Ok(Ok(stream)) => {
                            serve_connection(stream, peer, true, router, limits, stop).await
                        }
                        Ok(Err(error)) => tracing::debug!(%error, %peer, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
            drop(counted);
            drop(close_rx);
        });
    }

    drop(listener);
    drop(close_rx);
    let _ = stop_tx.send(true);
    let grace = Duration::from_secs(settings.shutdown_grace_secs);
    tracing::info!(
        grace_secs = grace.as_secs(),
        "shutting down: no new connections; requests in flight are finishing \
         (a second signal stops at once)"
    );
    tokio::select! {
        () = close_tx.closed() => Stopped::Gracefully,
        () = tokio::time::sleep(grace) => {
            tracing::warn!("the grace period ended with requests still in flight");
            Stopped::Forced
        }
        () = signals.reaches(2) => {
            tracing::warn!("second signal: stopping now");
            Stopped::Forced
        }
    }
}

/// One connection, HTTP/1.1 or HTTP/2, until it ends or the server stops
/// (then its request in flight is finished first).
async fn serve_connection<S>(
    stream: S,
    peer: SocketAddr,
    over_tls: bool,
    router: Router,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = router.map_request(move |req: Request<Incoming>| {
        let mut req = req.map(Body::new);
        req.extensions_mut().insert(ConnectInfo(peer));
        if over_tls {
            req.extensions_mut().insert(ServedOverTls);
        }
        req
    });
    let service = TowerToHyperService::new(service);
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_header_bytes);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX));
    let mut conn = pin!(builder.serve_connection_with_upgrades(TokioIo::new(stream), service));
    // Until the server stops, serve; then ask the connection once to finish
    // the request in flight and close, and wait for that alone. (Waiting on
    // `stop` again would return at once, every time: a busy loop per open
    // connection for the whole grace period.)
    let result = tokio::select! {
        result = conn.as_mut() => Some(result),
        _ = stop.wait_for(|stopping| *stopping) => None,
    };
    let result = match result {
        Some(result) => result,
        None => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%error, "connection ended with an error");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    /// Review E2 and E16: one IPv6 /64 is one client for the cap, and an
    /// IPv4 client of a dual-stack listener is its IPv4 address.
    #[test]
    fn the_connection_cap_counts_an_ipv6_network_and_a_mapped_address_as_one_client() {
        let table = Arc::new(ConnectionsPerIp {
            max: 2,
            ipv6_prefix: 64,
            exempt: Vec::new(),
            open: Default::default(),
        });
        let first = table.admit(ip("2001:db8:1:2::1")).expect("admitted");
        let second = table.admit(ip("2001:db8:1:2::99")).expect("admitted");
        assert!(
            table.admit(ip("2001:db8:1:2:ffff::7")).is_none(),
            "a third in the /64"
        );
        assert!(table.admit(ip("2001:db8:1:3::1")).is_some(), "another /64");
        drop(first);
        assert!(
            table.admit(ip("2001:db8:1:2::5")).is_some(),
            "a place came free"
        );
        drop(second);

        let v4 = table.admit(ip("203.0.113.9")).expect("admitted");
        let mapped = table
            .admit(ip("::ffff:203.0.113.9").to_canonical())
            .expect("admitted");
        assert!(table.admit(ip("203.0.113.9")).is_none(), "the same client");
        drop((v4, mapped));
    }
}
