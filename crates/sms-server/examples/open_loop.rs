//! An open-loop load generator for the benchmark (bench/run.sh): requests start at a fixed rate,
//! whether or not earlier ones have been answered, and each one's latency counts from when it
//! was due to start, not from when a connection was free to send it. A closed loop (wrk) waits
//! for an answer before the next request and so hides the queue a slow moment builds
//! ("coordinated omission"); this is how a CRM's traffic, which does not wait, feels it.
//!
//!     SMS_BASIC=… cargo run --release -p sms-server --example open_loop -- BASE KIND RATE SECONDS [CONNECTIONS]
//!
//! KIND `send`: `POST /apps/api/v1/sms` to a new consumer each time (`SMS_BENCH_RUN` gives each
//! run numbers of its own, area code 312); KIND `reply`: `POST /apps/api/v1/chats/{id}/messages`
//! round robin over the chats `CHAT_FIRST` to `CHAT_LAST`. At most CONNECTIONS (64) requests are
//! in flight; one that would be more waits, and its wait counts. Prints one line:
//! `OPEN kind=… rate=… achieved=… requests=… p50_ms=… p99_ms=… p999_ms=… max_ms=… errors=… non2xx=…`,
//! and on stderr the first three failures: a request that got no answer, or a non-2xx status with
//! the start of its body.
//! (oha's `--latency-correction` does the same, but cannot vary a request's body, which names
//! the consumer of a send.)

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Plan {
    base: String,
    kind: String,
    rate: f64,
    seconds: f64,
    connections: usize,
    basic: String,
    run: u64,
    chats: (u64, u64),
}

fn plan() -> Result<Plan, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: open_loop BASE send|reply RATE SECONDS [CONNECTIONS]";
    let number = |i: usize| args.get(i).and_then(|v| v.parse::<f64>().ok()).filter(|v| *v > 0.0).ok_or(usage);
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let plan = Plan {
        base: args.first().ok_or(usage)?.trim_end_matches('/').to_owned(),
        kind: args.get(1).filter(|k| *k == "send" || *k == "reply").ok_or(usage)?.clone(),
        rate: number(2)?,
        seconds: number(3)?,
        connections: args.get(4).and_then(|v| v.parse().ok()).unwrap_or(64).max(1),
        basic: std::env::var("SMS_BASIC").map_err(|_| "SMS_BASIC (base64 of subdomain:token) is not set")?,
        run: env("SMS_BENCH_RUN").unwrap_or(0),
        chats: (env("CHAT_FIRST").unwrap_or(1), env("CHAT_LAST").unwrap_or(1)),
    };
    Ok(plan)
}

/// Request `i`'s path and body.
fn request(plan: &Plan, i: u64) -> (String, String) {
    if plan.kind == "send" {
        let n = plan.run * 1_000_000 + i;
        let number = format!("+1 312-{:03}-{:04}", 200 + (n / 10_000) % 800, n % 10_000);
        let body = format!(
            r#"{{"chat_type":"Messaging (SMS)","end_user_number":"{number}","outbound_number":"+1 628-555-0199","message":"lorem ipsum"}}"#
        );
        ("/apps/api/v1/sms".to_owned(), body)
    } else {
        let (first, last) = plan.chats;
        let id = first + (i * 7919) % (last.saturating_sub(first) + 1);
        (format!("/apps/api/v1/chats/{id}/messages"), r#"{"message":"Your order shipped today."}"#.to_owned())
    }
}

#[derive(Default)]
struct Outcome {
    latencies_us: Vec<u64>,
    errors: u64,
    non2xx: u64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let plan = match plan() {
        Ok(plan) => Arc::new(plan),
        Err(e) => {
            eprintln!("open_loop: {e}");
            std::process::exit(2);
        }
    };
    let client = match reqwest::Client::builder().pool_max_idle_per_host(plan.connections).build() {
        Ok(client) => client,
        Err(e) => {
            eprintln!("open_loop: {e}");
            std::process::exit(1);
        }
    };
    let total = (plan.rate * plan.seconds).round() as u64;
    let interval = Duration::from_secs_f64(1.0 / plan.rate);
    let next = Arc::new(AtomicU64::new(0));
    // How many failures were printed, over all lanes: the first few say what they were.
    let told = Arc::new(AtomicU64::new(0));
    let start = Instant::now() + Duration::from_millis(100);
    // Each lane takes the next request, waits until it is due, sends it and records how long
    // it took from when it was due.
    let lanes = (0..plan.connections).map(|_| {
        let (plan, client, next, told) = (plan.clone(), client.clone(), next.clone(), told.clone());
        let first_few = move || told.fetch_add(1, Ordering::Relaxed) < 3;
        tokio::spawn(async move {
            let mut outcome = Outcome::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return outcome;
                }
                let due = start + interval.mul_f64(i as f64);
                tokio::time::sleep_until(due.into()).await;
                let (path, body) = request(&plan, i);
                let sent = client
                    .post(format!("{}{path}", plan.base))
                    .header("Authorization", format!("Basic {}", plan.basic))
                    .header("Content-Type", "application/json")
                    .body(body)
                    .send()
                    .await;
                match sent {
                    Ok(response) => {
                        let status = response.status();
                        let body = response.bytes().await.unwrap_or_default();
                        if !status.is_success() {
                            if first_few() {
                                let text =
                                    String::from_utf8_lossy(&body[..body.len().min(200)]).replace(['\n', '\r'], " ");
                                eprintln!("open_loop: request {i} answered {status}: {text}");
                            }
                            outcome.non2xx += 1;
                        }
                    }
                    Err(e) => {
                        if first_few() {
                            eprintln!("open_loop: request {i} failed: {}", describe(&e));
                        }
                        outcome.errors += 1;
                    }
                }
                outcome.latencies_us.push(u64::try_from(due.elapsed().as_micros()).unwrap_or(u64::MAX));
            }
        })
    });
    let mut all = Outcome::default();
    for lane in futures_util::future::join_all(lanes).await.into_iter().flatten() {
        all.latencies_us.extend(lane.latencies_us);
        all.errors += lane.errors;
        all.non2xx += lane.non2xx;
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.latencies_us.sort_unstable();
    let pick = |q: f64| {
        let n = all.latencies_us.len();
        let index = ((q * n as f64).ceil() as usize).clamp(1, n.max(1)) - 1;
        all.latencies_us.get(index).copied().unwrap_or(0) as f64 / 1000.0
    };
    println!(
        "OPEN kind={} rate={:.0} achieved={:.1} requests={} p50_ms={:.2} p99_ms={:.2} p999_ms={:.2} max_ms={:.2} errors={} non2xx={}",
        plan.kind,
        plan.rate,
        all.latencies_us.len() as f64 / elapsed,
        all.latencies_us.len(),
        pick(0.50),
        pick(0.99),
        pick(0.999),
        pick(1.0),
        all.errors,
        all.non2xx
    );
}

/// An error with its causes, outermost first.
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
