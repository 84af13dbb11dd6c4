//! Configuration and wiring of the outbound SMS service; `main.rs` is only the command line.

pub mod config;
pub mod secret;
pub mod startup;

pub use config::Config;
pub use startup::{Application, StartupError};
