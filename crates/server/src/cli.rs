//! The command line.

use clap::{Parser, Subcommand};
use xl_domain::Role;

/// Experience Layer: the backend behind AI chat products.
#[derive(Debug, Parser)]
#[command(name = "xl", version, about)]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply migrations and serve the API (the default).
    Serve,
    /// Manage the database schema.
    Migrate {
        /// What to do with the schema.
        #[command(subcommand)]
        command: MigrateCommand,
    },
    /// Print a JWT signed with the configured secret, for local use.
    Token(TokenArgs),
    /// Write a consistent copy of the SQLite database (and a local file
    /// store's files) into a new directory, while the server runs.
    Backup {
        /// The directory to create.
        path: std::path::PathBuf,
    },
    /// Replace the SQLite database (and add the files) from a backup
    /// directory; stop the server first.
    Restore {
        /// A directory `xl backup` made.
        path: std::path::PathBuf,
    },
}

/// Schema commands.
#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Apply pending migrations.
    Up {
        /// Apply at most this many.
        #[arg(long)]
        steps: Option<u32>,
    },
    /// Roll back applied migrations.
    Down {
        /// How many to roll back.
        #[arg(long, default_value_t = 1)]
        steps: u32,
    },
    /// List migrations and whether each is applied.
    Status,
    /// Drop every table and apply all migrations again.
    Fresh,
}

/// Arguments of `xl token`.
#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    /// The user's email address.
    #[arg(long)]
    pub email: String,
    /// USER or ADMIN.
    #[arg(long, default_value = "USER", value_parser = parse_role)]
    pub role: Role,
    /// Display name (default: the part of the email before @).
    #[arg(long)]
    pub name: Option<String>,
    /// Lifetime such as 15m, 1h or 7d.
    #[arg(long, default_value = "1h")]
    pub ttl: String,
    /// Organisation slug (default: the email's domain).
    #[arg(long)]
    pub org: Option<String>,
}

fn parse_role(raw: &str) -> Result<Role, String> {
    raw.to_ascii_uppercase()
        .parse()
        .map_err(|err: xl_domain::DomainError| err.to_string())
}
