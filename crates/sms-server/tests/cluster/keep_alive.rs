//! Idle client connections and the proxy in front: the server keeps an idle connection open
//! for `SMS_KEEP_ALIVE_SECS` (75 s by default, longer than nginx's and most load balancers' 60 s),
//! so that a proxy reusing its pooled connection never meets one the server is closing.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use sms_test_support::{Backend, TestDb};

use crate::processes::Instance;

/// One `GET /healthz` on `stream`, kept alive; the status line of the answer, or what went wrong.
fn health(stream: &mut TcpStream, host: &str) -> String {
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: keep-alive\r\n\r\n");
    if let Err(e) = stream.write_all(request.as_bytes()) {
        return format!("write failed: {e}");
    }
    let mut answer = vec![0u8; 4096];
    match stream.read(&mut answer) {
        Ok(0) => "closed by the server".to_owned(),
        Ok(n) => String::from_utf8_lossy(&answer[..n]).lines().next().unwrap_or_default().to_owned(),
        Err(e) => format!("read failed: {e}"),
    }
}

#[test]
fn an_idle_connection_outlives_the_proxys_reuse() {
    let _serial = crate::serial();
    let db = TestDb::create(Backend::Sqlite);
    let logs = tempfile::tempdir().unwrap();
    let idle = Duration::from_secs(6);
    for (keep_alive, expected) in [(None, "HTTP/1.1 200 OK"), (Some("2"), "closed by the server")] {
        let env: Vec<(&str, &str)> = keep_alive.map(|secs| ("SMS_KEEP_ALIVE_SECS", secs)).into_iter().collect();
        let instance = Instance::launch(db.url(), &logs.path().join("keep_alive.log"), &env);
        let host = instance.base.trim_start_matches("http://").to_owned();
        let mut stream = TcpStream::connect(&host).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert_eq!(health(&mut stream, &host), "HTTP/1.1 200 OK");
        // Longer than actix's own default (5 s), which closed connections nginx still held.
        std::thread::sleep(idle);
        assert_eq!(health(&mut stream, &host), expected, "after {idle:?} idle, SMS_KEEP_ALIVE_SECS {keep_alive:?}");
    }
    println!("keep-alive: an idle connection served again after {idle:?} (default); closed with SMS_KEEP_ALIVE_SECS=2");
}
