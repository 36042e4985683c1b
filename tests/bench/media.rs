//! `--media`: the media library on an empty server: upload throughput for a 20 MB file (raw
//! body and multipart), and the latency of turning a 4000×3000 JPEG into a 640-wide WebP,
//! made fresh (cold) and served from the store (cached).

use std::path::Path;
use std::time::Instant;

use serde_json::Value;

use super::hostile::{memory, reset_peak};
use super::{bench_token, create_admin, start_server};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// A photo-like 4000×3000 JPEG: gradients and noise, so it encodes like a real picture.
fn photo() -> Vec<u8> {
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let img = image::RgbImage::from_fn(4000, 3000, |x, y| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let n = (seed & 31) as u32;
        image::Rgb([
            ((x * 255 / 4000) + n).min(255) as u8,
            ((y * 255 / 3000) + n).min(255) as u8,
            (((x + y) * 255 / 7000) + n).min(255) as u8,
        ])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(&img)
        .expect("encode");
    out
}

pub async fn run(bin: &Path) {
    let work = tempfile::tempdir().expect("temp dir");
    let data_dir = work.path();
    create_admin(bin, data_dir);
    let server = start_server(bin, data_dir).await;
    let base = server.base.clone();
    let client = reqwest::Client::new();
    let token = bench_token(&client, &base).await;

    // 20 MB uploads, each with different bytes (identical ones would be deduplicated).
    const SIZE: usize = 20 * 1024 * 1024;
    let mut raw = Vec::new();
    let mut multipart = Vec::new();
    for i in 0..6 {
        let mut body = format!("run,{i},{}\n", std::process::id()).into_bytes();
        while body.len() < SIZE {
            body.extend_from_slice(b"0123456789,abcdefghijklmnopqrstuvwxyz,ABCDEFGHIJKLMNOP\n");
        }
        body.truncate(SIZE);
        let started = Instant::now();
        let resp = if i % 2 == 0 {
            client
                .post(format!("{base}/admin/api/v1/media?filename=data-{i}.csv"))
                .bearer_auth(&token)
                .body(body)
                .send()
                .await
        } else {
            let form = reqwest::multipart::Form::new().part(
                "file",
                reqwest::multipart::Part::bytes(body).file_name(format!("data-{i}.csv")),
            );
            client
                .post(format!("{base}/admin/api/v1/media"))
                .bearer_auth(&token)
                .multipart(form)
                .send()
                .await
        }
        .expect("upload");
        assert_eq!(
            resp.status(),
            201,
            "upload: {}",
            resp.text().await.unwrap_or_default()
        );
        let mbps = SIZE as f64 / (1024.0 * 1024.0) / started.elapsed().as_secs_f64();
        if i % 2 == 0 {
            raw.push(mbps);
        } else {
            multipart.push(mbps);
        }
    }

    let jpeg = photo();
    let started = Instant::now();
    let resp = client
        .post(format!("{base}/admin/api/v1/media?filename=photo.jpg"))
        .bearer_auth(&token)
        .body(jpeg.clone())
        .send()
        .await
        .expect("upload photo");
    let photo_upload_ms = started.elapsed().as_secs_f64() * 1000.0;
    let item: Value = resp.json().await.expect("json");
    let url = item["data"][0]["url"]
        .as_str()
        .expect("url")
        .replace("photo.jpg", "photo.webp");

    // Cold: a variant never made before (another quality each time).
    let mut cold = Vec::new();
    for q in 70..80 {
        let started = Instant::now();
        let resp = client
            .get(format!("{url}?w=640&q={q}"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("transform");
        assert_eq!(resp.status(), 200);
        let bytes = resp.bytes().await.expect("bytes");
        assert!(!bytes.is_empty());
        cold.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let mut cached = Vec::new();
    for _ in 0..200 {
        let started = Instant::now();
        let resp = client
            .get(format!("{url}?w=640&q=75"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("cached");
        assert_eq!(resp.status(), 200);
        resp.bytes().await.expect("bytes");
        cached.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "\n### media ({} MB JPEG source, 4000×3000)\n",
        jpeg.len() / 1_000_000
    );
    println!("| measure | value |");
    println!("|---|---:|");
    println!(
        "| upload 20 MiB, raw body (median of 3) | {:.0} MiB/s |",
        median(raw)
    );
    println!(
        "| upload 20 MiB, multipart (median of 3) | {:.0} MiB/s |",
        median(multipart)
    );
    println!(
        "| upload 4000×3000 JPEG (measure, placeholder, strip metadata, store) | {photo_upload_ms:.0} ms |"
    );
    println!(
        "| 4000×3000 JPEG → 640-wide WebP, cold (p50 / max of 10) | {:.0} / {:.0} ms |",
        median(cold.clone()),
        percentile(cold, 1.0)
    );
    println!(
        "| same variant, cached (p50 / p99 of 200) | {:.2} / {:.2} ms |",
        median(cached.clone()),
        percentile(cached, 0.99)
    );
    large_images(&client, &base, &token, server.child.id()).await;
    drop(server);
}

/// A `w`×`h` photo-like JPEG, made quickly (a smooth pattern: large images take seconds to
/// encode with noise).
fn large_photo(w: u32, h: u32, seed: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([
            ((x / 7 + seed) % 256) as u8,
            ((y / 5 + seed * 3) % 256) as u8,
            (((x + y) / 11) % 256) as u8,
        ])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(&img)
        .expect("encode");
    out
}

/// Memory of image work at the largest size accepted: a 100-megapixel upload, a variant of
/// it, and four large images' variants made at once. Peak resident memory above what the
/// server held before, from the kernel's high-water mark (reset before each step).
async fn large_images(client: &reqwest::Client, base: &str, token: &str, pid: u32) {
    let (idle, _) = memory(pid);
    let mut rows = Vec::new();
    let mut urls = Vec::new();
    for i in 0..4u32 {
        let (w, h) = if i == 0 {
            (10_000, 10_000)
        } else {
            (6000, 4000)
        };
        let jpeg = large_photo(w, h, i * 40);
        reset_peak(pid);
        let started = Instant::now();
        let resp = client
            .post(format!("{base}/admin/api/v1/media?filename=large-{i}.jpg"))
            .bearer_auth(token)
            .body(jpeg)
            .send()
            .await
            .expect("upload large");
        assert_eq!(resp.status(), 201, "upload large");
        let item: Value = resp.json().await.expect("json");
        urls.push(item["data"][0]["url"].as_str().expect("url").to_owned());
        if i == 0 {
            rows.push((
                "upload a 10000×10000 JPEG (100 MP)".to_owned(),
                started.elapsed().as_secs_f64() * 1000.0,
                memory(pid).1 - idle,
            ));
        }
    }
    for (label, query) in [
        ("100 MP JPEG → 640-wide WebP", "w=640&format=webp"),
        (
            "100 MP JPEG → 4096×4096 cover crop, JPEG",
            "w=4096&h=4096&fit=cover&format=jpeg",
        ),
    ] {
        reset_peak(pid);
        let started = Instant::now();
        let resp = client
            .get(format!("{}?{query}", urls[0]))
            .bearer_auth(token)
            .send()
            .await
            .expect("transform");
        assert_eq!(resp.status(), 200, "{label}");
        resp.bytes().await.expect("bytes");
        rows.push((
            label.to_owned(),
            started.elapsed().as_secs_f64() * 1000.0,
            memory(pid).1 - idle,
        ));
    }
    reset_peak(pid);
    let started = Instant::now();
    let all = futures::future::join_all(urls.iter().map(|u| {
        client
            .get(format!("{u}?w=1600&format=jpeg"))
            .bearer_auth(token)
            .send()
    }))
    .await;
    assert!(
        all.iter()
            .all(|r| r.as_ref().is_ok_and(|r| r.status() == 200))
    );
    rows.push((
        "four 100 MP JPEGs → 1600 wide, at once".to_owned(),
        started.elapsed().as_secs_f64() * 1000.0,
        memory(pid).1 - idle,
    ));
    println!("\n### large images (server resident memory before: {idle:.0} MiB)\n");
    println!("| step | time | peak above before |\n|---|---:|---:|");
    for (label, ms, peak) in rows {
        println!("| {label} | {ms:.0} ms | {peak:.0} MiB |");
    }
}
