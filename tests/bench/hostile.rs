//! `--hostile`: what attacks cost a running release server, measured from outside.
//!
//! 1. **Memory per request**: the server's peak resident memory (the kernel's high-water mark,
//!    reset before each attack through `/proc/PID/clear_refs`) above its idle level, for each
//!    of the requests the attack suite sends: endless bodies (anonymous and signed in),
//!    multipart framing that never ends, an oversized upload, the largest JSON body allowed,
//!    a populate at the edge of its budget, and a 1 MiB Markdown preview.
//! 2. **Saturation**: `--seconds` (60 for the README) of 64 connections asking for pages the
//!    response cache cannot have, while a probe asks `/healthz` every 100 ms.
//! 3. **Slow clients**: 5,000 connections sending a request head a byte a second, with the
//!    same probe.
//!
//! Everything runs against 127.0.0.1 and stops by itself.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::{bench_token, create_admin, start_server};

/// Resident memory of `pid` now and at its peak since the last reset, in MiB.
pub fn memory(pid: u32) -> (f64, f64) {
    (
        super::status_mib(pid, "VmRSS:"),
        super::status_mib(pid, "VmHWM:"),
    )
}

/// Resets the peak the kernel keeps, so the next reading is the peak of what follows.
pub fn reset_peak(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

fn addr(base: &str) -> String {
    base.trim_start_matches("http://").to_owned()
}

/// An endless body: what it is, the request head, the first bytes, what repeats, and how much
/// of it to send at most.
type Attack = (&'static str, String, Vec<u8>, &'static [u8], u64);

/// Articles whose page, populated, passes the populate budget: 100 articles, each by its own
/// author with a 100 KB biography, with 10 of 300 tags.
async fn seed(client: &reqwest::Client, base: &str, token: &str) {
    let post = |path: &str, body: Value| {
        client
            .post(format!("{base}/admin/api/v1{path}"))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    let mut tags = Vec::new();
    for i in 0..300 {
        let r: Value = post(
            "/content/tag",
            json!({ "fields": { "name": format!("Tag number {i}") } }),
        )
        .await
        .expect("tag")
        .json()
        .await
        .expect("json");
        tags.push(r["data"]["id"].clone());
    }
    for i in 0..100 {
        let bio = "A long biography sentence. ".repeat(3800);
        let author: Value = post(
            "/content/author",
            json!({ "fields": { "name": format!("Author {i}"), "email": format!("a{i}@example.com"), "bio": bio } }),
        )
        .await
        .expect("author")
        .json()
        .await
        .expect("json");
        let mine: Vec<Value> = (0..10)
            .map(|k| tags[(i * 3 + k * 29) % 300].clone())
            .collect();
        let r = post(
            "/content/article",
            json!({ "fields": {
                "title": { "en": format!("Article {i}") },
                "body": { "en": "Some words. ".repeat(600) },
                "author": author["data"]["id"],
                "tags": mine,
            }, "publish": true }),
        )
        .await
        .expect("article");
        assert!(r.status().is_success(), "seed article: {}", r.status());
    }
}

/// How long a password-reset request takes for an address with an account and for one
/// without, interleaved: seven of each, as many as the per-address throttle lets through free.
async fn reset_timing(client: &reqwest::Client, base: &str, token: &str) {
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..7 {
        let email = format!("reset-{i}@example.com");
        let created = client
            .post(format!("{base}/admin/api/v1/users"))
            .bearer_auth(token)
            .json(
                &json!({ "email": email, "role": "viewer", "password": "a long enough password" }),
            )
            .send()
            .await
            .expect("user");
        assert!(created.status().is_success(), "create user");
        for (address, into) in [
            (email.clone(), &mut known),
            (format!("nobody-{i}@example.com"), &mut unknown),
        ] {
            let t = Instant::now();
            let r = client
                .post(format!("{base}/admin/api/v1/auth/password-reset"))
                .json(&json!({ "email": address }))
                .send()
                .await
                .expect("reset");
            assert_eq!(r.status(), 202, "reset request");
            into.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    println!(
        "\nPassword-reset requests, median of 7 each: address with an account {:.2} ms, without {:.2} ms",
        median(known),
        median(unknown)
    );
}

/// Probes `/healthz` every 100 ms until `stop`; the latencies in ms (a failure counts as the
/// probe's 5 s timeout).
fn probe(base: String, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<Vec<f64>> {
    tokio::spawn(async move {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(0)
            .build()
            .expect("client");
        let mut out = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let t = Instant::now();
            let ok = client
                .get(format!("{base}/healthz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            out.push(if ok {
                t.elapsed().as_secs_f64() * 1000.0
            } else {
                5000.0
            });
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        out
    })
}

fn summary(mut v: Vec<f64>) -> String {
    if v.is_empty() {
        return "no probes".into();
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    format!(
        "{} probes: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        v.len(),
        at(0.5),
        at(0.99),
        v[v.len() - 1]
    )
}

pub async fn run(bin: &Path, seconds: u64) {
    let work = tempfile::tempdir().expect("temp dir");
    let data_dir = work.path();
    create_admin(bin, data_dir);
    let server = start_server(bin, data_dir).await;
    let pid = server.child.id();
    let base = server.base.clone();
    let host = addr(&base);
    let client = reqwest::Client::new();
    let token = bench_token(&client, &base).await;
    seed(&client, &base, &token).await;
    // Warm the paths the attacks touch, then let the allocator settle.
    let _ = client
        .get(format!(
            "{base}/api/v1/content/article?limit=100&populate=author,tags"
        ))
        .send()
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (idle, _) = memory(pid);

    println!("\n### Memory per request (idle: {idle:.0} MiB resident)\n");
    println!("| request | answer | sent | peak above idle |\n|---|---|---:|---:|");
    let auth = format!("Authorization: Bearer {token}\r\n");
    let json_head = |path: &str, signed_in: bool| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\n{}Content-Type: application/json",
            if signed_in { auth.as_str() } else { "" }
        )
    };
    let form_head = format!(
        "POST /admin/api/v1/media HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: multipart/form-data; boundary=XyZ"
    );
    let mib = |n: u64| format!("{:.0} MiB", n as f64 / (1 << 20) as f64);
    let attacks: Vec<Attack> = vec![
        (
            "anonymous endless body to /markdown/preview",
            json_head("/admin/api/v1/markdown/preview", false),
            Vec::new(),
            b"[",
            512 << 20,
        ),
        (
            "anonymous endless body to /auth/login",
            json_head("/admin/api/v1/auth/login", false),
            Vec::new(),
            b" ",
            512 << 20,
        ),
        (
            "signed-in endless body to POST /content/article",
            json_head("/admin/api/v1/content/article", true),
            Vec::new(),
            b" ",
            512 << 20,
        ),
        (
            "upload: endless bytes before the first boundary",
            form_head.clone(),
            Vec::new(),
            b"preamble ",
            512 << 20,
        ),
        (
            "upload: an `alt` part that never ends",
            form_head.clone(),
            b"--XyZ\r\nContent-Disposition: form-data; name=\"alt\"\r\n\r\n".to_vec(),
            b"alt text ",
            512 << 20,
        ),
        (
            "upload: a file part past the 200 MiB request limit",
            form_head.clone(),
            b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\n".to_vec(),
            b"0123456789abcdef",
            300 << 20,
        ),
    ];
    for (name, head, prefix, fill, total) in attacks {
        reset_peak(pid);
        let (status, sent) =
            super::raw_http::endless(&host, &head, &prefix, fill, total, Duration::from_secs(60))
                .await;
        let status = status.unwrap_or(0);
        let (_, peak) = memory(pid);
        println!(
            "| {name} | {status} | {} | {:.0} MiB |",
            mib(sent),
            peak - idle
        );
    }
    let requests: Vec<(&str, reqwest::RequestBuilder)> = vec![
        (
            "anonymous list of 100 articles, `populate=tags`",
            client.get(format!("{base}/api/v1/content/article?limit=100&populate=tags")),
        ),
        (
            "anonymous list of 50 articles, `populate=author,tags` (5 MB of authors)",
            client.get(format!("{base}/api/v1/content/article?limit=50&populate=author,tags")),
        ),
        (
            "anonymous list of 100 articles, `populate=*` (10 MB of authors: over the budget)",
            client.get(format!("{base}/api/v1/content/article?limit=100&populate=*")),
        ),
        (
            "signed-in create with a 2 MiB body (refused by validation after reading)",
            client
                .post(format!("{base}/admin/api/v1/content/article"))
                .bearer_auth(&token)
                .json(&json!({ "fields": { "title": { "en": "Large" }, "body": { "en": "word ".repeat(400_000) } } })),
        ),
        (
            "signed-in Markdown preview of 1 MiB",
            client
                .post(format!("{base}/admin/api/v1/markdown/preview"))
                .bearer_auth(&token)
                .json(&json!({ "markdown": "*emphasis* and `code`, ".repeat(40_000) })),
        ),
    ];
    for (name, req) in requests {
        reset_peak(pid);
        let status = match req.send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                let _ = r.bytes().await;
                status
            }
            Err(_) => 0,
        };
        let (_, peak) = memory(pid);
        println!("| {name} | {status} | | {:.0} MiB |", peak - idle);
    }

    reset_timing(&client, &base, &token).await;

    println!("\n### Saturation: {seconds} s of 64 connections on uncached pages\n");
    let stop = Arc::new(AtomicBool::new(false));
    let probe_task = probe(base.clone(), stop.clone());
    let served = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for w in 0..64u64 {
        let base = base.clone();
        let stop = stop.clone();
        let served = served.clone();
        workers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut i = w;
            while !stop.load(Ordering::Relaxed) {
                // A different page or search each time: the response cache cannot help.
                let url = match i % 3 {
                    0 => format!(
                        "{base}/api/v1/content/article?limit=25&page={}&populate=author,tags",
                        i % 4 + 1
                    ),
                    1 => format!("{base}/api/v1/search?q=words+{i}&type=article"),
                    _ => format!(
                        "{base}/api/v1/content/article?filter[title][starts_with]=Article+{}",
                        i % 100
                    ),
                };
                i += 64;
                if let Ok(r) = client.get(url).send().await {
                    let _ = r.bytes().await;
                    served.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.await;
    }
    let during = probe_task.await.expect("probe");
    let after = {
        let t = Instant::now();
        let ok = client.get(format!("{base}/healthz")).send().await.is_ok();
        (ok, t.elapsed().as_secs_f64() * 1000.0)
    };
    println!(
        "{} requests ({:.0}/s); /healthz during: {}; right after: {:.1} ms",
        served.load(Ordering::Relaxed),
        served.load(Ordering::Relaxed) as f64 / seconds as f64,
        summary(during),
        after.1
    );

    println!("\n### 5,000 slow clients\n");
    let stop = Arc::new(AtomicBool::new(false));
    let mut slow = Vec::new();
    let opened = Arc::new(AtomicU64::new(0));
    let closed_by_server = Arc::new(AtomicU64::new(0));
    for _ in 0..5000 {
        let host = host.clone();
        let stop = stop.clone();
        let opened = opened.clone();
        let closed = closed_by_server.clone();
        slow.push(tokio::spawn(async move {
            // Trickles a head a byte a second; when the server drops it, comes back.
            while !stop.load(Ordering::Relaxed) {
                let Ok(mut s) = TcpStream::connect(&host).await else {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                opened.fetch_add(1, Ordering::Relaxed);
                let head = format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\nX-Slow: ");
                let mut bytes = head.into_bytes().into_iter().chain(std::iter::repeat(b'a'));
                while !stop.load(Ordering::Relaxed) {
                    let b = bytes.next().unwrap_or(b'a');
                    if s.write_all(&[b]).await.is_err() {
                        closed.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let probe_task = probe(base.clone(), stop.clone());
    let (rss_before, _) = memory(pid);
    tokio::time::sleep(Duration::from_secs(30)).await;
    let (rss_with, _) = memory(pid);
    stop.store(true, Ordering::Relaxed);
    for s in slow {
        let _ = s.await;
    }
    println!(
        "5,000 at once, {} opened in all, {} of them closed by the server (header timeout); /healthz: {}; resident memory {:.0} → {:.0} MiB",
        opened.load(Ordering::Relaxed),
        closed_by_server.load(Ordering::Relaxed),
        summary(probe_task.await.expect("probe")),
        rss_before,
        rss_with
    );
    drop(server);
}
