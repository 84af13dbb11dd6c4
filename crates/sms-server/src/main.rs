//! `sms-server`: serve (default), `migrate`, `openapi`, `admin-token`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sms_server::config::{self, Config};
use sms_server::{Application, StartupError};

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
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 86_400)]
        ttl: u64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(),
        Command::Migrate => migrate(),
        Command::Openapi => {
            print!("{}", sms_http::openapi_json());
            Ok(())
        }
        Command::AdminToken { ttl } => admin_token(ttl),
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
            println!("First start: a JWT secret was generated in {}.", config.data_dir.display());
            println!("Admin token (valid 24 h; `sms-server admin-token` prints a new one):\n\n{token}\n");
        }
        println!("Serving on http://{} (docs at /docs)", display_bind(&config.bind, app.port()));
        app.run_until_stopped().await.map_err(StartupError::Bind)
    })
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
    let secret = config::jwt_secret(&config)?;
    let keys = sms_service::JwtKeys::new(&secret.secret);
    let token = keys.admin_token(ttl).map_err(|e| StartupError::Config(e.to_string()))?;
    println!("{token}");
    Ok(())
}
