//! What the binary refuses at start and on its command line, as an operator meets it.

// Tests may unwrap: clippy.toml allows it in `#[test]` functions only, not in the helpers here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_sms-server"));
    command
        .args(args)
        .env("SMS_DATA_DIR", dir.path())
        .env("SMS_BIND", "127.0.0.1:0")
        .env_remove("SMS_JWT_SECRET")
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env_remove("REDIS_PASSWORD")
        .env_remove("REDIS_SENTINEL_PASSWORD");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

fn stderr_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr).lines().map(str::to_owned).filter(|l| !l.trim().is_empty()).collect()
}

/// The placeholder of `.env.example`, however long, and a short secret stop the server with one
/// line naming the variable.
#[test]
fn a_placeholder_or_short_secret_stops_the_server() {
    let placeholder = "change-me-to-64-hex-characters-from-openssl-rand-hex-32-xxxxxxxxxxx";
    for secret in [placeholder, "0123456789abcdef0123456789abcdef-change-me", "too-short"] {
        let output = run(&[], &[("SMS_JWT_SECRET", secret)]);
        assert!(!output.status.success(), "started with {secret:?}");
        let lines = stderr_lines(&output);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("SMS_JWT_SECRET"), "{lines:?}");
    }
}

/// Sentinel settings that cannot be followed stop the server with one line naming them, rather
/// than leave it on the in-process lock beside its siblings: `REDIS_URL` beside the sentinels,
/// one of the two that name the master without the other, a list that is not `host:port`, and
/// passwords without sentinels.
#[test]
fn contradictory_redis_settings_stop_the_server() {
    let secret = ("SMS_JWT_SECRET", "0123456789abcdef0123456789abcdef0123");
    let (sentinels, master) =
        (("REDIS_SENTINELS", "10.0.0.1:26379,10.0.0.2:26379"), ("REDIS_SENTINEL_MASTER", "mymaster"));
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);
    let cases: [Case<'_>; 6] = [
        (&[sentinels, master, ("REDIS_URL", "redis://10.0.0.3:6379")], &["REDIS_URL", "REDIS_SENTINELS"]),
        (&[sentinels], &["REDIS_SENTINELS", "REDIS_SENTINEL_MASTER"]),
        (&[master], &["REDIS_SENTINEL_MASTER", "REDIS_SENTINELS"]),
        (&[("REDIS_SENTINELS", "10.0.0.1"), master], &["REDIS_SENTINELS", "\"10.0.0.1\" is not host:port"]),
        (&[("REDIS_PASSWORD", "pw")], &["REDIS_PASSWORD", "REDIS_SENTINELS"]),
        (&[("REDIS_SENTINEL_PASSWORD", "pw"), ("REDIS_URL", "redis://10.0.0.3:6379")], &["REDIS_SENTINEL_PASSWORD"]),
    ];
    for (settings, named) in cases {
        let mut env = vec![secret];
        env.extend_from_slice(settings);
        let output = run(&[], &env);
        assert_eq!(output.status.code(), Some(1), "started with {settings:?}");
        let lines = stderr_lines(&output);
        assert_eq!(lines.len(), 1, "{lines:?}");
        for name in named {
            assert!(lines[0].contains(name), "{settings:?}: {lines:?} does not name {name}");
        }
        assert!(!lines[0].contains("pw\""), "{lines:?}");
    }
}

/// `admin-token --ttl` over the lifetime cap exits with status 2; within it, prints a token.
#[test]
fn admin_tokens_respect_the_lifetime_cap() {
    let secret = ("SMS_JWT_SECRET", "0123456789abcdef0123456789abcdef0123");
    let output = run(&["admin-token", "--ttl", "2592001"], &[secret]);
    assert_eq!(output.status.code(), Some(2), "{:?}", stderr_lines(&output));
    assert!(output.stdout.is_empty());
    let output = run(&["admin-token", "--ttl", "600"], &[secret, ("SMS_JWT_MAX_TTL_SECS", "300")]);
    assert_eq!(output.status.code(), Some(2), "a cap of its own");
    let output = run(&["admin-token", "--ttl", "2592000"], &[secret]);
    assert!(output.status.success(), "{:?}", stderr_lines(&output));
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim().split('.').count(), 3, "a JWT");
}

/// The embedded default's data directory and files are its owner's only: the database holds
/// numbers, texts and token hashes, the secret signs admin tokens.
#[cfg(unix)]
#[test]
fn the_data_directory_is_the_owners_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_dir = data.to_string_lossy().into_owned();
    let output = Command::new(env!("CARGO_BIN_EXE_sms-server"))
        .arg("migrate")
        .env("SMS_DATA_DIR", &data_dir)
        .env_remove("SMS_JWT_SECRET")
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let output = run(&["admin-token"], &[("SMS_DATA_DIR", &data_dir)]);
    assert!(output.status.success(), "{:?}", stderr_lines(&output));
    let mode = |name: &str| {
        std::fs::metadata(data.join(name))
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    assert_eq!(mode(""), 0o700, "the directory");
    assert_eq!(mode("sms.sqlite3"), 0o600, "the database");
    assert_eq!(mode("jwt_secret"), 0o600, "the secret");
}

/// At first start the admin token is kept in the data directory, readable by its owner only,
/// and not printed into whatever collects the output (here a pipe, not a terminal).
#[cfg(unix)]
#[test]
fn the_first_admin_token_goes_to_a_private_file_not_to_the_log() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sms-server"))
        .env("SMS_DATA_DIR", dir.path())
        .env("SMS_BIND", "127.0.0.1:0")
        .env_remove("SMS_JWT_SECRET")
        .env_remove("DATABASE_URL")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut printed = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        let serving = line.starts_with("Serving on");
        printed.push(line);
        if serving {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let file = dir.path().join("admin_token");
    let token = std::fs::read_to_string(&file).unwrap();
    assert_eq!(token.trim().split('.').count(), 3, "a JWT in {}", file.display());
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(!printed.iter().any(|line| line.contains(token.trim())), "the token was printed: {printed:?}");
    assert!(printed.iter().any(|line| line.contains("admin_token")), "where it is is said: {printed:?}");
}
