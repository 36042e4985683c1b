//! Raw HTTP/1.1 on a TCP connection, for what a client library will not send: request heads
//! and bodies that never end. Shared by the attack tests (`tests/it/attacks.rs`) and the
//! attack benchmark (`tests/bench/hostile.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the end of a response head; `None` when the connection closes first.
pub async fn read_head(stream: &mut (impl AsyncReadExt + Unpin)) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
        if head.len() > 64 * 1024 {
            return None;
        }
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// The status code of a response head (0 if it has none).
pub fn status_of(head: &str) -> u16 {
    head.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Sends `head` (without its final blank line) to `addr` as a chunked request whose body
/// never ends — `prefix`, then 64 KiB chunks of `fill` up to `total` bytes, after which it
/// stays open — and returns the answer's status and how much had been sent when its head
/// arrived: `None` if none came within `wait`.
pub async fn endless(
    addr: &str,
    head: &str,
    prefix: &[u8],
    fill: &'static [u8],
    total: u64,
    wait: Duration,
) -> (Option<u16>, u64) {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut read, mut write) = stream.into_split();
    let mut start = format!("{head}\r\nTransfer-Encoding: chunked\r\n\r\n").into_bytes();
    if !prefix.is_empty() {
        start.extend_from_slice(format!("{:x}\r\n", prefix.len()).as_bytes());
        start.extend_from_slice(prefix);
        start.extend_from_slice(b"\r\n");
    }
    write.write_all(&start).await.expect("head");
    let sent = Arc::new(AtomicU64::new(0));
    let writer = tokio::spawn({
        let sent = sent.clone();
        async move {
            let chunk = fill.repeat(64 * 1024 / fill.len());
            let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
            framed.extend_from_slice(&chunk);
            framed.extend_from_slice(b"\r\n");
            while sent.load(Ordering::Relaxed) < total {
                if write.write_all(&framed).await.is_err() {
                    return;
                }
                sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            }
            // Never finished: the body stays open.
            std::future::pending::<()>().await;
        }
    });
    let status = tokio::time::timeout(wait, read_head(&mut read))
        .await
        .ok()
        .flatten()
        .map(|h| status_of(&h));
    let at = sent.load(Ordering::Relaxed);
    writer.abort();
    (status, at)
}
