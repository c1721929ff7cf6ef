//! Submit benchmark: `count` messages of about `size` bytes handed to a
//! node with the client-streaming `MessageAdmin/Submit`, `concurrency`
//! streams at a time (each answered once its message is durable, like
//! SMTP's 250). Prints one JSON line: messages, seconds, per-second rate,
//! and the p50 / p99 / max latency of one Submit in milliseconds.
//!
//! cargo run --release -p postroom-api --example submit_bench -- \
//!     --server 127.0.0.1:7700 --to documents@farm.test --count 2000 --concurrency 10 --size 5000

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use postroom_api::proto::message_admin_client::MessageAdminClient;
use postroom_api::proto::{Envelope, SubmitChunk};
use postroom_api::{connect_channel, Credentials};

const CHUNK: usize = 256 * 1024;

struct Options {
    server: String,
    to: String,
    count: u64,
    concurrency: u64,
    size: usize,
    token: Option<String>,
}

fn options() -> anyhow::Result<Options> {
    let mut o = Options {
        server: "127.0.0.1:7700".to_string(),
        to: "documents@localhost".to_string(),
        count: 1000,
        concurrency: 10,
        size: 5000,
        token: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .with_context(|| format!("{flag} {value}: not a number"))
        };
        match flag.as_str() {
            "--server" => o.server = value.clone(),
            "--to" => o.to = value.clone(),
            "--count" => o.count = number()?,
            "--concurrency" => o.concurrency = number()?.max(1),
            "--size" => o.size = usize::try_from(number()?)?,
            "--token" => o.token = Some(value.clone()),
            other => {
                bail!("unknown flag {other} (--server --to --count --concurrency --size --token)")
            }
        }
    }
    Ok(o)
}

fn message(n: u64, size: usize) -> Vec<u8> {
    let mut m = format!(
        "From: bench@client.test\r\nTo: bench\r\nSubject: submit {n}\r\nMessage-ID: <submit-{n}-{}@client.test>\r\n\r\n",
        std::process::id()
    )
    .into_bytes();
    let line = b"The quick brown fox jumps over the lazy dog, again and again.\r\n";
    while m.len() < size {
        m.extend_from_slice(line);
    }
    m
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let o = Arc::new(options()?);
    let credentials = Credentials {
        token: o.token.clone(),
        ..Credentials::default()
    };
    let channel = connect_channel(&o.server, &credentials).await?;
    let next = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..o.concurrency {
        let (o, next, latencies) = (o.clone(), next.clone(), latencies.clone());
        let mut client = MessageAdminClient::new(channel.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= o.count {
                    return Ok::<(), anyhow::Error>(());
                }
                let bytes = message(n, o.size);
                let mut chunks: Vec<SubmitChunk> = bytes
                    .chunks(CHUNK)
                    .map(|c| SubmitChunk {
                        envelope: None,
                        data: c.to_vec(),
                    })
                    .collect();
                if let Some(first) = chunks.first_mut() {
                    first.envelope = Some(Envelope {
                        sender: "bench@client.test".to_string(),
                        recipients: vec![o.to.clone()],
                    });
                }
                let t = Instant::now();
                client
                    .submit(tokio_stream::iter(chunks))
                    .await
                    .with_context(|| format!("submit {n}"))?;
                let took = t.elapsed();
                latencies
                    .lock()
                    .map_err(|_| anyhow::anyhow!("latency list poisoned"))?
                    .push(took);
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut lat: Vec<Duration> = latencies
        .lock()
        .map_err(|_| anyhow::anyhow!("latency list poisoned"))?
        .clone();
    lat.sort();
    let ms = |p: f64| {
        let i = ((lat.len() as f64 - 1.0) * p).round() as usize;
        lat.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "{{\"messages\": {}, \"seconds\": {seconds:.3}, \"per_second\": {:.1}, \"p50_ms\": {:.2}, \"p99_ms\": {:.2}, \"max_ms\": {:.2}}}",
        o.count,
        o.count as f64 / seconds,
        ms(0.5),
        ms(0.99),
        ms(1.0)
    );
    Ok(())
}
