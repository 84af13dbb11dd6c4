//! The JWT secret: from `SMS_JWT_SECRET`, or (the embedded default) generated once and kept in
//! the data directory, readable by its owner only.

use std::path::Path;

use crate::config::Config;
use crate::StartupError;

/// The JWT secret and whether it was just generated (first start of the embedded default).
#[derive(Clone)]
pub struct JwtSecret {
    pub secret: Vec<u8>,
    pub generated: bool,
}

const SECRET_FILE: &str = "jwt_secret";
const MIN_SECRET_BYTES: usize = 32;
/// What `.env.example` ships: a value with it was never changed, and anyone who read the
/// repository could sign admin tokens with it.
const PLACEHOLDER: &str = "change-me";

/// `SMS_JWT_SECRET` when set; otherwise, on SQLite, the secret kept in the data directory,
/// created on first use. PostgreSQL deployments run several instances, which must share the
/// secret, so there it is required.
pub fn jwt_secret(config: &Config) -> Result<JwtSecret, StartupError> {
    if let Some(secret) = &config.jwt_secret {
        let secret = secret.expose();
        if secret.contains(PLACEHOLDER) {
            return Err(StartupError::Config(
                "SMS_JWT_SECRET is the placeholder of .env.example; set it to `openssl rand -hex 32`".into(),
            ));
        }
        if secret.len() < MIN_SECRET_BYTES {
            return Err(StartupError::Config(format!("SMS_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes")));
        }
        return Ok(JwtSecret { secret: secret.as_bytes().to_vec(), generated: false });
    }
    if config.is_postgres() {
        return Err(StartupError::Config("SMS_JWT_SECRET is required with PostgreSQL".into()));
    }
    let path = config.data_dir.join(SECRET_FILE);
    match std::fs::read_to_string(&path) {
        Ok(existing) if existing.trim().len() >= MIN_SECRET_BYTES => {
            warn_if_readable_by_others(&path);
            return Ok(JwtSecret { secret: existing.trim().as_bytes().to_vec(), generated: false });
        }
        Ok(_) => {
            return Err(StartupError::Config(format!(
                "{} is too short; delete it to generate a new one",
                path.display()
            )))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(StartupError::Config(format!("cannot read {}: {e}", path.display()))),
    }
    create_private_dir(&config.data_dir)
        .map_err(|e| StartupError::Config(format!("cannot create {}: {e}", config.data_dir.display())))?;
    let secret = hex::encode(rand::random::<[u8; 32]>());
    write_private(&path, &secret).map_err(|e| StartupError::Config(format!("cannot write {}: {e}", path.display())))?;
    Ok(JwtSecret { secret: secret.into_bytes(), generated: true })
}

/// Creates the data directory readable by its owner only (it holds the secret, and the SQLite
/// database with numbers, texts and token hashes).
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// A secret file that others may read is a secret no longer: say so at start.
fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0) {
            tracing::warn!(path = %path.display(), "the JWT secret file is readable by other users; chmod 600 it");
        }
    }
}

/// The file the first start's admin token is written to, in the data directory.
pub const ADMIN_TOKEN_FILE: &str = "admin_token";

/// Keeps the admin token of the first start in the data directory, readable by its owner only
/// (replacing a token of an earlier first start); answers where.
pub fn keep_admin_token(data_dir: &Path, token: &str) -> std::io::Result<std::path::PathBuf> {
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    write_private(&path, &format!("{token}\n"))?;
    Ok(path)
}

/// Refuses a secret that still holds the placeholder of `.env.example` (`change-me`): anyone who
/// read the repository would know it. SMS_JWT_SECRET is checked where it is read.
pub fn refuse_placeholders(config: &Config) -> Result<(), StartupError> {
    let delivery = &config.delivery;
    let secrets = [
        ("TWILIO_AUTH_TOKEN", delivery.twilio_auth_token.as_ref().map(|s| s.expose())),
        ("SMS_WEBHOOK_SECRET", delivery.webhook_secret.as_ref().map(|s| s.expose())),
        ("REDIS_URL", config.redis_url.as_deref()),
        ("REDIS_PASSWORD", config.redis_sentinel.as_ref().and_then(|s| s.password.as_ref()).map(|s| s.expose())),
        (
            "REDIS_SENTINEL_PASSWORD",
            config.redis_sentinel.as_ref().and_then(|s| s.sentinel_password.as_ref()).map(|s| s.expose()),
        ),
        ("DATABASE_URL", Some(config.database_url.as_str())),
    ];
    match secrets.into_iter().find(|(_, value)| value.is_some_and(|v| v.contains(PLACEHOLDER))) {
        Some((name, _)) => Err(StartupError::Config(format!(
            "{name} holds the placeholder of .env.example (change-me); set a secret of your own"
        ))),
        None => Ok(()),
    }
}

/// Writes a file readable by its owner only, refusing to overwrite one that appeared meanwhile.
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(content.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_secret_is_generated_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config { data_dir: dir.path().join("data"), ..Config::default() };
        let first = jwt_secret(&config).unwrap();
        assert!(first.generated);
        let second = jwt_secret(&config).unwrap();
        assert!(!second.generated);
        assert_eq!(first.secret, second.secret);
    }

    #[test]
    fn postgres_requires_a_secret() {
        let config = Config { database_url: "postgres://x/y".into(), ..Config::default() };
        assert!(matches!(jwt_secret(&config), Err(StartupError::Config(_))));
        let short = Config { jwt_secret: Some("short".into()), ..Config::default() };
        assert!(matches!(jwt_secret(&short), Err(StartupError::Config(_))));
    }

    #[test]
    fn the_placeholder_secret_is_refused_however_long() {
        let placeholder = "change-me-to-64-hex-characters-from-openssl-rand-hex-32-xxxxxxxxxxx";
        let config = Config { jwt_secret: Some(placeholder.into()), ..Config::default() };
        match jwt_secret(&config) {
            Err(StartupError::Config(message)) => assert!(message.contains("SMS_JWT_SECRET"), "{message}"),
            Ok(_) => panic!("the placeholder must be refused"),
            Err(e) => panic!("{e}"),
        }
        let good = Config { jwt_secret: Some("0123456789abcdef0123456789abcdef".into()), ..Config::default() };
        assert!(jwt_secret(&good).is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn the_data_directory_and_the_secret_are_the_owners_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let config = Config { data_dir: dir.path().join("data"), ..Config::default() };
        jwt_secret(&config).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).map(|m| m.permissions().mode() & 0o777).unwrap_or(0);
        assert_eq!(mode(&config.data_dir), 0o700);
        assert_eq!(mode(&config.data_dir.join(SECRET_FILE)), 0o600);
    }
}
