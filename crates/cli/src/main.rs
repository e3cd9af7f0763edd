//! The `babyshield` binary: parses the command line and hands over to the
//! library crates. With no subcommand it serves.

mod allocator;
mod commands;
mod ingest;

use std::{path::PathBuf, process::ExitCode};

use babyshield_server::import::IndexUpkeep;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "babyshield", version, about = "Product-safety recall service")]
struct Cli {
    /// Configuration file (default: $BABYSHIELD_CONFIG, else ./babyshield.toml when present).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Validate the configuration and print it with secrets redacted.
    CheckConfig,
    /// Import normalized recalls from a JSON Lines file ("-" for stdin).
    Import {
        file: PathBuf,
        /// Recalls per transaction [default: 50,000 into an empty SQLite
        /// catalogue whose indexes are built at the end, 20,000 otherwise].
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=50_000))]
        batch_size: Option<u64>,
        /// Keep the full-text, facet and date indexes current batch by
        /// batch even into an empty SQLite catalogue. By default such a
        /// load builds the full-text one beside the batches and the others
        /// at the end: more than twice as fast, but SQL searches do not
        /// find the new recalls until it is done, and the final build holds
        /// the write lock (about 10 s per million recalls).
        #[arg(long)]
        keep_indexes: bool,
    },
    /// Ingest one page of an agency's data in its own format (CPSC Recall
    /// Retrieval JSON, openFDA enforcement, Health Canada list or detail),
    /// from a file or fetched from a URL.
    #[command(group(clap::ArgGroup::new("input").required(true).args(["file", "url"])))]
    Ingest {
        #[arg(long, value_parser = ["cpsc", "fda-food", "fda-drug", "fda-device", "health-canada"])]
        source: String,
        /// The page, as downloaded from the agency.
        #[arg(long)]
        file: Option<PathBuf>,
        /// Fetch the page from this http(s) URL (timeouts, retries and the
        /// breaker of `[ingest]` apply).
        #[arg(long)]
        url: Option<String>,
    },
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage the keys that seal personal data.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Check the audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Show the newest messages of the development outbox (when no SMTP server is configured).
    Outbox {
        #[arg(long, default_value_t = 10)]
        limit: i64,
    },
    /// Write a deterministic synthetic recall data set (JSON Lines) for scale tests.
    GenData {
        #[arg(long)]
        count: u64,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Output file (default: stdout).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an admin account, or promote an existing one. The password is
    /// read from $BABYSHIELD_ADMIN_PASSWORD or the first line of stdin.
    CreateAdmin {
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Re-seal every personal field with the current (first) data key, in
    /// batches, while the service keeps running.
    Rotate,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the audit chain; exit 1 naming the first edited, deleted or
    /// reordered row.
    Verify,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    allocator::configure(if matches!(command, Command::Serve) {
        allocator::Purge::AtOnce
    } else {
        allocator::Purge::Delayed
    });
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let config_path = cli.config.as_deref();
    let result = runtime.block_on(async {
        match command {
            Command::Serve => commands::serve(config_path).await,
            Command::Migrate => commands::migrate(config_path).await,
            Command::CheckConfig => commands::check_config(config_path),
            Command::Import { file, batch_size, keep_indexes } => {
                let upkeep = if keep_indexes { IndexUpkeep::Live } else { IndexUpkeep::DeferredWhenEmpty };
                commands::import(config_path, &file, batch_size.map(|n| n as usize), upkeep).await
            }
            Command::GenData { count, seed, output } => commands::gen_data(count, seed, output.as_deref()),
            Command::Ingest { source, file, url } => {
                let input = match (&file, &url) {
                    (Some(file), _) => ingest::Input::File(file),
                    (None, Some(url)) => ingest::Input::Url(url),
                    (None, None) => unreachable!("clap requires --file or --url"),
                };
                ingest::run(config_path, &source, input).await
            }
            Command::User(UserCommand::CreateAdmin { email }) => {
                commands::create_admin(config_path, &email).await
            }
            Command::Keys(KeysCommand::Rotate) => commands::rotate_keys(config_path).await,
            Command::Audit(AuditCommand::Verify) => commands::verify_audit(config_path).await,
            Command::Outbox { limit } => commands::outbox(config_path, limit).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            // One line, the whole cause chain: the first words name the problem.
            eprintln!("error: {e:#}");
            ExitCode::from(commands::exit_code_for(&e))
        }
    }
}
