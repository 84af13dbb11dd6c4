//! PostgreSQL restarts under load (section 15): a PostgreSQL server of the test's own is stopped
//! the hard way (`pg_ctl stop -m immediate`: every connection drops, as in a crash or a
//! failover) and started again a second later. Every instance serves again within 5 s of the
//! database accepting connections, without a restart; nothing acknowledged is lost.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use diesel::{Connection, PgConnection};

use crate::load::{self, Sent};
use crate::processes::{free_port, Client, Instance, RedisServer};

const RECOVERY_MAX: Duration = Duration::from_secs(5);

/// A PostgreSQL cluster in a temporary directory, run by the `postgres` OS user when the test
/// runs as root (PostgreSQL refuses root).
struct PgServer {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    as_postgres: bool,
}

impl PgServer {
    fn start() -> Self {
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL's server binaries in /usr/lib/postgresql (scripts/lib.sh installs them)")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|p| p.join("pg_ctl").exists())
            .collect();
        versions.sort_by_key(|p| p.to_string_lossy().split('/').nth(4).and_then(|v| v.parse::<u32>().ok()));
        let bin = versions.pop().expect("a PostgreSQL version with pg_ctl");
        let as_postgres = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        let dir = tempfile::tempdir().unwrap();
        if as_postgres {
            assert!(Command::new("chown").arg("postgres:postgres").arg(dir.path()).status().unwrap().success());
        }
        let server = Self { bin, dir, port: free_port(), as_postgres };
        server.run("initdb", &["-A", "trust", "-U", "postgres", "--no-sync"]);
        server.start_again();
        server
    }

    /// `tool -D <data> args`, as the `postgres` user when the test runs as root.
    fn command(&self, tool: &str, args: &[&str]) -> Command {
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(self.bin.join(tool));
            c
        } else {
            Command::new(self.bin.join(tool))
        };
        command.arg("-D").arg(self.dir.path().join("data")).args(args);
        command
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let output = self.command(tool, args).output().unwrap();
        assert!(output.status.success(), "{tool} {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    }

    /// Starts the server and waits until it accepts connections.
    fn start_again(&self) {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off -c max_connections=100",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log");
        self.run("pg_ctl", &["-w", "-l", &log.to_string_lossy(), "-o", &options, "start"]);
    }

    /// Stops it as a crash would: every connection drops, nothing is shut down cleanly.
    fn crash(&self) {
        self.run("pg_ctl", &["-m", "immediate", "stop"]);
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn accepts(&self) -> bool {
        PgConnection::establish(&self.url()).is_ok()
    }

    fn count(&self, table: &str) -> i64 {
        use diesel::prelude::*;
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = PgConnection::establish(&self.url()).unwrap();
        diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}")).get_result::<N>(&mut conn).unwrap().n
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = self.command("pg_ctl", &["-m", "immediate", "stop"]).output();
    }
}

#[test]
fn every_instance_serves_again_soon_after_postgresql_restarts() {
    let _serial = crate::serial();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let pg = PgServer::start();
    let logs = tempfile::tempdir().unwrap();
    let redis = RedisServer::start(free_port(), tempfile::tempdir().unwrap());
    let mut instances: Vec<Instance> = (0..2)
        .map(|i| Instance::start(&pg.url(), &redis.url(), &logs.path().join(format!("instance-{i}.log"))))
        .collect();
    let bases: Vec<String> = instances.iter().map(|i| i.base.clone()).collect();
    let client = runtime.block_on(Client::acme(&bases, Duration::from_secs(5)));
    // The outage runs on a thread of its own, so the load never waits for it.
    let stop = AtomicBool::new(false);
    let (sent, (crashed, accepted)) = std::thread::scope(|scope| {
        let outage = scope.spawn(|| {
            std::thread::sleep(Duration::from_secs(2));
            let crashed = Instant::now();
            pg.crash();
            std::thread::sleep(Duration::from_secs(1));
            pg.start_again();
            while !pg.accepts() {
                std::thread::sleep(Duration::from_millis(10));
            }
            let accepted = Instant::now();
            std::thread::sleep(RECOVERY_MAX + Duration::from_secs(1));
            stop.store(true, Ordering::Relaxed);
            (crashed, accepted)
        });
        let sent = runtime.block_on(load::run(&client, &bases, 8, 0, &stop));
        (sent, outage.join().unwrap())
    });

    let first_200 = |base: &String| {
        sent.iter().filter(|s| &s.base == base && s.start >= accepted && s.status() == Some(200)).map(|s| s.end).min()
    };
    let recoveries: Vec<Option<Duration>> = bases.iter().map(|b| first_200(b).map(|t| t - accepted)).collect();
    let during: Vec<&Sent> = sent.iter().filter(|s| s.status() != Some(200)).collect();
    let unexpected: Vec<_> = during.iter().filter(|s| s.status() != Some(503)).map(|s| s.answer.clone()).collect();
    let checked = load::check_acknowledged(&|t| pg.count(t), &sent);
    let restarted: Vec<_> = instances.iter_mut().filter_map(|i| i.child.try_wait().unwrap()).collect();
    println!(
        "postgresql restart: {} requests on 2 instances; PostgreSQL crashed (pg_ctl stop -m immediate) and \
         accepted connections again {:.2} s later; {} requests answered 503 or not at all; first 200 after it \
         accepted: {}; {checked} acknowledged chats found",
        sent.len(),
        (accepted - crashed).as_secs_f64(),
        during.len(),
        recoveries
            .iter()
            .enumerate()
            .map(|(i, r)| format!(
                "instance {} {}",
                i + 1,
                r.map_or("never".into(), |r| format!("{:.2} s", r.as_secs_f64()))
            ))
            .collect::<Vec<_>>()
            .join(", "),
    );
    assert!(restarted.is_empty(), "no instance stopped: {restarted:?}");
    assert!(unexpected.is_empty(), "answers other than 200 and 503: {unexpected:?}");
    for (i, recovery) in recoveries.iter().enumerate() {
        assert!(recovery.is_some_and(|r| r <= RECOVERY_MAX), "instance {} served again after {recovery:?}", i + 1);
    }
}
