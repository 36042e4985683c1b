//! The connection loop: the poem application served over hyper with what a server facing the
//! open internet needs and `poem::Server` does not give — a cap on open connections, a time
//! limit for a request's headers, and one for a connection where nothing moves.
//!
//! - **Connections**: at most `max_connections` at once (kept below the process's open-file
//!   limit, so the database, the search index and the media store always have descriptors
//!   left). One over the cap is closed at once instead of waiting in the kernel's queue, and
//!   the refusal is logged at most once a minute.
//! - **Headers**: a request's head must arrive within `header_timeout` from the moment the
//!   connection waits for it, which is also how long an idle keep-alive connection is kept
//!   (hyper's `header_read_timeout`): a client that trickles a header a byte at a time, or
//!   opens a connection and sends nothing, is dropped.
//! - **Idle**: a connection on which no byte is read or written for `idle_timeout` is closed,
//!   whatever its state: an HTTP/2 connection, a response to a client that stopped reading,
//!   a connection that never says which protocol it speaks.
//!
//! Body pacing and size are the middleware's (`guard`), since only it knows the route.
//! Shutdown: accepting stops, every connection finishes the requests it has (hyper's graceful
//! shutdown), and whatever is still open after `grace` is dropped.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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
            move |req: hyper::Request<Incoming>| {
                let app = app.clone();
                let req: poem::Request =
                    (req, local.clone(), remote.clone(), scheme.clone()).into();
                async move {
                    let resp = app.get_response(req).await;
                    Ok::<_, Infallible>(hyper::Response::<HyperBody>::from(resp))
                }
            }
        });
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout);
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
        let idle = limits.idle_timeout;
        tokio::spawn(async move {
            tokio::select! {
                _ = conn => {}
                () = activity.idle_for(idle) => {
                    tracing::debug!(remote = %peer, "closing a connection where nothing moved");
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

/// When a connection last moved a byte, in milliseconds since it opened.
#[derive(Clone)]
struct Activity {
    opened: Instant,
    last_ms: Arc<AtomicU64>,
}

impl Activity {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            last_ms: Arc::new(AtomicU64::new(0)),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// Resolves once nothing has moved for `limit`.
    async fn idle_for(&self, limit: Duration) {
        loop {
            let last = self.opened + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            let deadline = last + limit;
            if Instant::now() >= deadline {
                return;
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
            self.activity.touch();
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
            self.activity.touch();
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
            self.activity.touch();
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
