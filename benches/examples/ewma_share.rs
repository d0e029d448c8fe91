//! The EWMA chart of `benches/RESULTS.md` ("EWMA"): Strait in-process (one worker) in front of
//! three endpoints on 127.34.0.1–3, two answering after 10 ms and one after 100 ms (10×
//! slower); 8 keep-alive clients load one host balanced round robin, then one balanced by
//! `load-balance: ewma`, for `seconds` each. Prints the slow endpoint's share per second and
//! overall, draws `benches/ewma-share.png` with gnuplot, then measures the process's CPU per
//! request (clients, proxy and endpoints together) of each mode with endpoints that answer at
//! once: the difference between the two is EWMA's own cost.
//!
//!   cargo run -p strait-benches --release --example ewma_share -- [seconds=10]

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use strait_e2e::manifests::{IngressB, backend, our_class};
use strait_e2e::{Conn, Manifests, config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// An endpoint answering `200 ok` after `delay`, counting requests.
async fn endpoint(ip: [u8; 4], port: u16, delay: Duration) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind((Ipv4Addr::from(ip), port))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&hits);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let hits = Arc::clone(&counted);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let mut data = Vec::new();
                loop {
                    while !data.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => data.extend_from_slice(&buf[..n]),
                        }
                    }
                    data.clear();
                    hits.fetch_add(1, Ordering::Relaxed);
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                    if stream.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, hits)
}

/// 8 clients on `host` until `stop`; returns the requests answered.
async fn load(addr: SocketAddr, host: &'static str, stop: Arc<AtomicBool>) -> usize {
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let stop = Arc::clone(&stop);
            tokio::spawn(async move {
                let mut conn = Conn::open(addr).await.expect("connect");
                let mut done = 0;
                while !stop.load(Ordering::Relaxed) {
                    let reply = conn.get(host, "/", &[]).await.expect("request");
                    assert_eq!(reply.status, 200);
                    done += 1;
                }
                done
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("client");
    }
    total
}

/// CPU seconds of this process so far (user + system, from /proc).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(vec![], |(_, r)| r.split_whitespace().collect());
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let seconds: u64 = std::env::args().nth(1).map_or(Ok(10), |s| s.parse())?;
    let fast = Duration::from_millis(10);
    let (a, a_hits) = endpoint([127, 34, 0, 1], 0, fast).await;
    let (b, b_hits) = endpoint([127, 34, 0, 2], a.port(), fast).await;
    let (c, slow_hits) = endpoint([127, 34, 0, 3], a.port(), fast * 10).await;
    let (d, _) = endpoint([127, 34, 0, 4], 0, Duration::ZERO).await;
    let (e, _) = endpoint([127, 34, 0, 5], d.port(), Duration::ZERO).await;
    let mut items = vec![our_class()];
    let hosts = [
        ("rr", "rr.test", "slow", ""),
        ("ewma", "ewma.test", "slow", "ewma"),
        ("rr0", "rr0.test", "quick", ""),
        ("ewma0", "ewma0.test", "quick", "ewma"),
    ];
    for (name, host, svc, mode) in hosts {
        let mut ingress = IngressB::new("default", name).rule(host, "/", "Prefix", svc, 80);
        if !mode.is_empty() {
            ingress = ingress.annotation("nginx.ingress.kubernetes.io/load-balance", mode);
        }
        items.push(ingress.build());
    }
    items.extend(backend("default", "slow", &[a, b, c]));
    items.extend(backend("default", "quick", &[d, e]));
    let manifests = Manifests::new();
    manifests.write_list("ewma.json", &items);
    let mut cfg = config(manifests.path());
    cfg.workers = 1;
    let strait = strait_controller::serve::start(cfg).await?;
    let http = strait.http_addr;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut conn = Conn::open(http).await?;
        if conn.get("ewma0.test", "/", &[]).await?.status == 200 {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "Strait did not serve in 10 s");
    }

    let all = || {
        a_hits.load(Ordering::Relaxed)
            + b_hits.load(Ordering::Relaxed)
            + slow_hits.load(Ordering::Relaxed)
    };
    let mut data = String::from("# second, round robin share %, ewma share %\n");
    let mut shares = [Vec::new(), Vec::new()];
    let mut overall = [0.0; 2];
    for (mode, host) in [(0, "rr.test"), (1, "ewma.test")] {
        let stop = Arc::new(AtomicBool::new(false));
        let run = tokio::spawn(load(http, host, Arc::clone(&stop)));
        let (start_all, start_slow) = (all(), slow_hits.load(Ordering::Relaxed));
        let (mut prev_all, mut prev_slow) = (start_all, start_slow);
        for _ in 0..seconds {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let (now_all, now_slow) = (all(), slow_hits.load(Ordering::Relaxed));
            let share = 100.0 * (now_slow - prev_slow) as f64 / (now_all - prev_all).max(1) as f64;
            shares[mode].push(share);
            (prev_all, prev_slow) = (now_all, now_slow);
        }
        stop.store(true, Ordering::Relaxed);
        run.await?;
        overall[mode] = 100.0 * (slow_hits.load(Ordering::Relaxed) - start_slow) as f64
            / (all() - start_all).max(1) as f64;
    }
    println!("| second | round robin: slow endpoint's share | ewma: slow endpoint's share |");
    println!("| --- | --- | --- |");
    for (i, (rr, ewma)) in shares[0].iter().zip(&shares[1]).enumerate() {
        println!("| {} | {rr:.1} % | {ewma:.1} % |", i + 1);
        data += &format!("{} {rr:.2} {ewma:.2}\n", i + 1);
    }
    println!("| all | {:.1} % | {:.1} % |", overall[0], overall[1]);

    // CPU per request of each mode, endpoints answering at once, alternating twice.
    let mut cpu = [Vec::new(), Vec::new()];
    for _ in 0..2 {
        for (mode, host) in [(0, "rr0.test"), (1, "ewma0.test")] {
            let stop = Arc::new(AtomicBool::new(false));
            let before = cpu_seconds();
            let run = tokio::spawn(load(http, host, Arc::clone(&stop)));
            tokio::time::sleep(Duration::from_secs(3)).await;
            stop.store(true, Ordering::Relaxed);
            let requests = run.await?;
            cpu[mode].push((cpu_seconds() - before) * 1e6 / requests.max(1) as f64);
        }
    }
    println!(
        "\nCPU µs/request (whole process): round robin {:.1?}, ewma {:.1?}",
        cpu[0], cpu[1]
    );

    let dir = std::env::temp_dir();
    let dat = dir.join("ewma-share.dat");
    std::fs::write(&dat, data)?;
    let png = concat!(env!("CARGO_MANIFEST_DIR"), "/ewma-share.png");
    let script = format!(
        "set terminal png size 640,320\nset output '{png}'\n\
         set title 'Share of requests to the 10x slower endpoint (3 endpoints, 8 clients)'\n\
         set xlabel 'second'\nset ylabel '%'\nset yrange [0:50]\nset key top right\n\
         plot '{}' using 1:2 with linespoints title 'round robin', \
         '' using 1:3 with linespoints title 'ewma', 33.3 with lines dt 2 title '1/3'\n",
        dat.display()
    );
    // A script file: gnuplot's `-e` takes one line of commands.
    let plot = dir.join("ewma-share.gp");
    std::fs::write(&plot, script)?;
    let out = Command::new("gnuplot").arg(&plot).output()?;
    anyhow::ensure!(
        out.status.success(),
        "gnuplot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("chart: {png}");
    Ok(())
}
