//! The connection loop: the poem application served over hyper with what a server facing the
//! open internet needs and `poem::Server` does not give — a cap on open connections, a time
//! limit for a request's headers, and one for a connection where nothing moves.
//!
//! - **Connections**: at most `max_connections` at once (kept below the process's open-file
//!   limit, so the database, the search index and the media store always have descriptors
//!   left). One over the cap is closed at once instead of waiting in the kernel's queue, and
//!   the refusal is logged at most once a minute.
//! - **Headers**: the first request's head must be complete within `header_timeout` of the
//!   connection opening, and each later one within `header_timeout` of its first byte: a
//!   client that trickles a head a byte at a time, or connects and says nothing, is dropped.
//! - **Keep-alive**: between requests a connection waits `keep_alive` for the next one. This
//!   is longer than the header time on purpose: a proxy or load balancer in front keeps idle
//!   connections open for a minute or so, and a server that closes them first makes it send
//!   requests into closing connections (the "502 after a quiet minute" of many set-ups).
//! - **Idle**: during a request, a connection on which no byte is read or written for
//!   `idle_timeout` is closed: a response to a client that stopped reading, an upload that
//!   stopped, an HTTP/2 connection that went quiet.
//!
//! A watchdog per connection follows its phase (waiting for a head, reading one, in a
//! request) from what the connection reads and when the application is called, and closes
//! the connection when the phase's time is up.
//!
//! Body pacing and size are the middleware's (`guard`), since only it knows the route.
//! Shutdown: accepting stops, every connection finishes the requests it has (hyper's graceful
//! shutdown), and whatever is still open after `grace` is dropped.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use poem::listener::Acceptor;
use poem::{Endpoint, EndpointExt, IntoEndpoint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Semaphore;

type HyperBody = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

/// The connection limits, from `limits.*` in the configuration.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub keep_alive: Duration,
    pub idle_timeout: Duration,
}

/// Serves `app` on `acceptor` until `shutdown` resolves, then drains connections for at most
/// `grace`.
pub async fn run<A, E>(
    mut acceptor: A,
    app: E,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> std::io::Result<()>
where
    A: Acceptor + 'static,
    E: IntoEndpoint,
    E::Endpoint: 'static,
{
    let app = Arc::new(app.into_endpoint().map_to_response());
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut refused_logged: Option<Instant> = None;
    let mut refused = 0u64;
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = acceptor.accept() => accepted,
        };
        let (io, local, remote, scheme) = match accepted {
            Ok(conn) => conn,
            Err(e) => {
                // Out of descriptors or memory, or a connection reset before it was taken:
                // pause instead of spinning on the same error.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            refused += 1;
            if refused_logged.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
                tracing::warn!(
                    max_connections = limits.max_connections,
                    refused,
                    "at the connection limit: closing new connections"
                );
                refused_logged = Some(Instant::now());
                refused = 0;
            }
            drop(io);
            continue;
        };
        let activity = Activity::new();
        let io = Watched {
            inner: io,
            activity: activity.clone(),
        };
        let peer = remote.clone();
        let service = hyper::service::service_fn({
            let app = app.clone();
            let activity = activity.clone();
            move |req: hyper::Request<Incoming>| {
                let app = app.clone();
                let activity = activity.clone();
                activity.request_started(req.version() == hyper::Version::HTTP_2);
                let req: poem::Request =
                    (req, local.clone(), remote.clone(), scheme.clone()).into();
                async move {
                    let resp = app.get_response(req).await;
                    activity.request_answered();
                    Ok::<_, Infallible>(hyper::Response::<HyperBody>::from(resp))
                }
            }
        });
        let mut builder = auto::Builder::new(TokioExecutor::new());
        // The watchdog times heads and keep-alive (see the module header); hyper's own head
        // timer would cut the keep-alive wait short.
        builder.http1().header_read_timeout(None);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_header_list_size(16 * 1024)
            .max_concurrent_streams(128)
            .keep_alive_interval(Some(limits.idle_timeout / 2))
            .keep_alive_timeout(limits.header_timeout);
        let conn = builder
            .serve_connection(TokioIo::new(io), service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            tokio::select! {
                _ = conn => {}
                why = activity.expired(&limits) => {
                    tracing::debug!(remote = %peer, why, "closing a connection");
                }
            }
            drop(slot);
        });
    }
    drop(acceptor);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown grace period were dropped");
    }
    Ok(())
}

/// What a connection is doing, and since when: the watchdog's view of it.
#[derive(Clone)]
struct Activity {
    opened: Instant,
    inner: Arc<Phases>,
}

struct Phases {
    /// [`FRESH`], [`BETWEEN`], [`HEAD`], [`REQUEST`] or [`HTTP2`].
    phase: AtomicU8,
    /// When the current head's first byte came ([`HEAD`]), in ms since the connection opened.
    head_ms: AtomicU64,
    /// When a byte last moved either way, in ms since the connection opened.
    last_ms: AtomicU64,
}

/// No request yet: the first head must be complete within the header time of the opening.
const FRESH: u8 = 0;
/// Between requests: waiting (keep-alive) for the next head's first byte.
const BETWEEN: u8 = 1;
/// Reading a head whose first byte has come.
const HEAD: u8 = 2;
/// A request is being answered.
const REQUEST: u8 = 3;
/// HTTP/2: streams come and go; only the idle time applies.
const HTTP2: u8 = 4;

impl Activity {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            inner: Arc::new(Phases {
                phase: AtomicU8::new(FRESH),
                head_ms: AtomicU64::new(0),
                last_ms: AtomicU64::new(0),
            }),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn at(&self, ms: u64) -> Instant {
        self.opened + Duration::from_millis(ms)
    }

    /// Bytes arrived.
    fn read(&self) {
        let now = self.now_ms();
        self.inner.last_ms.store(now, Ordering::Relaxed);
        if self
            .inner
            .phase
            .compare_exchange(BETWEEN, HEAD, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            self.inner.head_ms.store(now, Ordering::Relaxed);
        }
    }

    /// Bytes left.
    fn wrote(&self) {
        self.inner.last_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    /// A head was complete and the application called.
    fn request_started(&self, http2: bool) {
        let phase = if http2 { HTTP2 } else { REQUEST };
        self.inner.phase.store(phase, Ordering::Release);
    }

    /// The application answered (its body may still be on its way out).
    fn request_answered(&self) {
        let _ = self.inner.phase.compare_exchange(
            REQUEST,
            BETWEEN,
            Ordering::AcqRel,
            Ordering::Relaxed,
        );
        self.wrote();
    }

    /// When the current phase runs out, and what that means.
    fn deadline(&self, limits: &ConnectionLimits) -> (Instant, &'static str) {
        let last = self.at(self.inner.last_ms.load(Ordering::Relaxed));
        match self.inner.phase.load(Ordering::Acquire) {
            FRESH => (
                self.opened + limits.header_timeout,
                "no request head in time",
            ),
            BETWEEN => (last + limits.keep_alive, "idle between requests"),
            HEAD => (
                self.at(self.inner.head_ms.load(Ordering::Relaxed)) + limits.header_timeout,
                "request head too slow",
            ),
            _ => (last + limits.idle_timeout, "nothing moved"),
        }
    }

    /// Resolves once the connection's current phase has run out of time.
    async fn expired(&self, limits: &ConnectionLimits) -> &'static str {
        loop {
            let (deadline, why) = self.deadline(limits);
            if Instant::now() >= deadline {
                return why;
            }
            tokio::time::sleep_until(deadline.into()).await;
        }
    }
}

/// An IO stream that notes every byte that moves.
struct Watched<T> {
    inner: T,
    activity: Activity,
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Listens on `addr` with a queue of 4,096 connections waiting to be accepted (the kernel
/// caps it at `net.core.somaxconn`), not the 128 of the standard library: when thousands of
/// clients reconnect at once, a short queue drops their SYNs, and every client behind them,
/// `/healthz` probes included, waits a second for the retransmission.
pub fn bind(addr: std::net::SocketAddr) -> std::io::Result<poem::listener::TcpAcceptor> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    poem::listener::TcpAcceptor::from_tokio(socket.listen(4096)?)
}

/// The most connections this process can hold open: `configured`, but kept 256 descriptors
/// (or a quarter of the limit, if less) below the open-file limit, for the database, the
/// search index, the media store and outgoing connections.
pub fn connection_cap(configured: usize) -> usize {
    let Some(files) = open_file_limit() else {
        return configured;
    };
    let reserve = (files / 4).min(256);
    configured.min(files.saturating_sub(reserve).max(16))
}

#[cfg(unix)]
fn open_file_limit() -> Option<usize> {
    let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile).current?;
    usize::try_from(soft).ok()
}

#[cfg(not(unix))]
fn open_file_limit() -> Option<usize> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_descriptors_for_everything_else() {
        let files = open_file_limit().expect("unix has an open-file limit");
        let cap = connection_cap(usize::MAX);
        assert!(cap < files, "{cap} < {files}");
        assert_eq!(connection_cap(10), 10.min(cap));
    }
}
