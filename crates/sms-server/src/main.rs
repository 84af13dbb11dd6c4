//! `sms-server`: serve (default), `migrate`, `openapi`, `admin-token`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sms_server::config::Config;
use sms_server::{Application, StartupError};

/// mimalloc rather than glibc's allocator: a request allocates and frees many small buffers on
/// whichever thread runs it, and glibc's free lists (`malloc_consolidate`, `unlink_chunk`) were
/// about an eighth of the server's CPU under load (BENCHMARKS.md, 2026-12-07, twelfth session).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "sms-server", version, about = "Self-hosted outbound SMS service (CCAI Outbound SMS API)")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the OpenAPI document.
    Openapi,
    /// Print an admin JWT signed with the configured secret.
    AdminToken {
        /// Lifetime in seconds, at most `SMS_JWT_MAX_TTL_SECS` (a longer one exits with 2).
        #[arg(long, default_value_t = 86_400)]
        ttl: u64,
    },
}

fn main() -> ExitCode {
    // SAFETY: the first thing the process does, on its only thread: nothing has used SQLite.
    #[allow(unsafe_code)]
    let sqlite_set_up = unsafe { sms_store::configure_sqlite() };
    let cli = Cli::parse();
    init_logging();
    if !sqlite_set_up {
        tracing::warn!("SQLite kept its serialised mode: it was in use before the process set it up");
    }
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(),
        Command::Migrate => migrate(),
        Command::Openapi => {
            print!("{}", sms_http::openapi_json());
            Ok(())
        }
        Command::AdminToken { ttl } => match admin_token(ttl) {
            Err(StartupError::TokenTooLong(message)) => {
                eprintln!("sms-server: {message}");
                return ExitCode::from(2);
            }
            other => other,
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sms-server: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SMS_LOG").unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if std::env::var("SMS_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn serve() -> Result<(), StartupError> {
    let config = Config::from_env()?;
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(&config)?;
        if let Some(token) = &app.first_start_admin_token {
            first_start(&config, token);
        }
        println!("Serving on http://{} (docs at /docs)", display_bind(&config.bind, app.port()));
        app.run_until_stopped().await.map_err(StartupError::Bind)
    })
}

/// The first start of the embedded default: the admin token is kept in the data directory,
/// readable by its owner only, and shown only on a terminal (never in whatever collects a
/// service's output).
fn first_start(config: &Config, token: &str) {
    use std::io::IsTerminal;
    println!("First start: a JWT secret was generated in {}.", config.data_dir.display());
    match sms_server::secret::keep_admin_token(&config.data_dir, token) {
        Ok(path) => println!("Admin token (valid 24 h) written to {} (readable by you only).", path.display()),
        Err(e) => eprintln!("sms-server: cannot keep the admin token: {e}"),
    }
    if std::io::stdout().is_terminal() {
        println!("Admin token:\n\n{token}\n");
    }
    println!("`sms-server admin-token` prints a new one at any time.");
}

fn display_bind(bind: &str, port: u16) -> String {
    match bind.rsplit_once(':') {
        Some((host, _)) => format!("{host}:{port}"),
        None => bind.to_owned(),
    }
}

fn migrate() -> Result<(), StartupError> {
    let config = Config::from_env()?;
    let url = sms_store::DbUrl::parse(&config.database_url)?;
    let store = sms_store::Store::new(&url, sms_store::PoolOptions::default())?;
    store.migrate()?;
    println!("migrations applied");
    Ok(())
}

fn admin_token(ttl: u64) -> Result<(), StartupError> {
    let config = Config::from_env()?;
    let secret = sms_server::secret::jwt_secret(&config)?;
    let keys = sms_service::JwtKeys::new(&secret.secret).with_max_ttl(config.jwt_max_ttl_secs);
    let token = keys.admin_token(ttl).map_err(|e| match e {
        sms_service::TokenError::TooLong { .. } => StartupError::TokenTooLong(e.to_string()),
        other => StartupError::Config(other.to_string()),
    })?;
    println!("{token}");
    Ok(())
}
