//! What each subcommand does.

use std::{
    fs::File,
    io::{BufReader, BufWriter, IsTerminal, Write},
    path::Path,
    process::ExitCode,
    time::Instant,
};

use anyhow::Context;
use babyshield_server::{
    Application,
    config::{Config, ConfigError, Secrets},
    import, open_store, telemetry,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Exit code for configuration errors (distinct from runtime failures).
const EXIT_CONFIG: u8 = 2;
/// Exit code when an import finished but rejected some lines.
const EXIT_PARTIAL: u8 = 3;

pub fn exit_code_for(error: &anyhow::Error) -> u8 {
    if error.chain().any(|e| e.is::<ConfigError>()) { EXIT_CONFIG } else { 1 }
}

pub(crate) fn load(config_path: Option<&Path>) -> anyhow::Result<Config> {
    Ok(Config::load(config_path)?)
}

pub async fn serve(config_path: Option<&Path>) -> anyhow::Result<ExitCode> {
    let config = load(config_path)?;
    telemetry::init_logging(&config.log);
    let app = Application::build(config).await?;
    app.run().await?;
    Ok(ExitCode::SUCCESS)
}

pub async fn migrate(config_path: Option<&Path>) -> anyhow::Result<ExitCode> {
    let config = load(config_path)?;
    telemetry::init_logging(&config.log);
    let store = open_store(&config).await?;
    let before = store.migration_status().await.context("cannot read the schema version")?;
    let after = store.migrate().await.context("migration failed")?;
    println!(
        "database schema at version {} ({} applied now, latest known {})",
        after.applied,
        before.pending - after.pending,
        after.latest
    );
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

pub fn check_config(config_path: Option<&Path>) -> anyhow::Result<ExitCode> {
    let config = load(config_path)?;
    Secrets::resolve(&config)?;
    print!("{}", config.redacted_toml());
    println!("# configuration is valid; database: {}", babyshield_storage_backend(&config));
    Ok(ExitCode::SUCCESS)
}

fn babyshield_storage_backend(config: &Config) -> &'static str {
    if config.database_url().starts_with("sqlite:") { "embedded SQLite" } else { "PostgreSQL" }
}

pub async fn import(
    config_path: Option<&Path>,
    file: &Path,
    batch_size: Option<usize>,
    upkeep: import::IndexUpkeep,
) -> anyhow::Result<ExitCode> {
    let mut config = load(config_path)?;
    config.database.sqlite_cache_mib = config.database.sqlite_cache_mib.max(import::IMPORT_SQLITE_CACHE_MIB);
    config.database.sqlite_mmap_mib = config.database.sqlite_mmap_mib.max(import::IMPORT_SQLITE_MMAP_MIB);
    telemetry::init_logging(&config.log);
    let store = open_store(&config).await?;
    if config.database.migrate_on_start {
        store.migrate().await.context("cannot migrate the database")?;
    }
    let started = Instant::now();
    let (reader, size): (Box<dyn std::io::BufRead + Send>, Option<u64>) = if file == Path::new("-") {
        (Box::new(BufReader::with_capacity(1 << 20, std::io::stdin())), None)
    } else {
        let f = File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
        let size = f.metadata().ok().map(|m| m.len());
        (Box::new(BufReader::with_capacity(1 << 20, f)), size)
    };
    let bar = progress_bar(size);
    let report = import::import_jsonl(&store, reader, batch_size, upkeep, |progress| match progress {
        import::Progress::Read(bytes) => bar.set_position(bytes),
        import::Progress::BuildingIndexes => {
            bar.set_message("building the full-text and facet indexes");
            bar.enable_steady_tick(std::time::Duration::from_millis(250));
        }
    })
    .await;
    bar.finish_and_clear();
    store.close().await;
    let report = report.context("import stopped")?;
    let seconds = started.elapsed().as_secs_f64();
    for rejection in &report.rejections {
        eprintln!("line {}: {}", rejection.line, rejection.error);
    }
    if report.rejected > report.rejections.len() as u64 {
        eprintln!("... and {} more rejected lines", report.rejected - report.rejections.len() as u64);
    }
    let accepted = report.inserted + report.updated + report.unchanged;
    println!(
        "imported {} lines in {:.2}s ({:.0} recalls/s): {} inserted, {} updated, {} unchanged, {} rejected",
        report.lines,
        seconds,
        accepted as f64 / seconds.max(1e-9),
        report.inserted,
        report.updated,
        report.unchanged,
        report.rejected
    );
    if let Some(build) = report.deferred_index_build {
        let full_text = match report.full_text {
            Some(babyshield_storage::recalls::FullTextBuild::Beside) => "merged beside the batches",
            Some(babyshield_storage::recalls::FullTextBuild::Filled) => "filled from the table",
            None => "built by another process, which finished the load",
        };
        println!(
            "built the deferred indexes after the last batch in {:.2}s (included above; the full-text index {full_text})",
            build.as_secs_f64()
        );
    }
    Ok(if report.rejected > 0 { ExitCode::from(EXIT_PARTIAL) } else { ExitCode::SUCCESS })
}

pub(crate) fn progress_bar(size: Option<u64>) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::with_draw_target(size, ProgressDrawTarget::hidden());
    }
    let bar = ProgressBar::with_draw_target(size, ProgressDrawTarget::stderr());
    let template = if size.is_some() {
        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta}) {msg}"
    } else {
        "{spinner} [{elapsed_precise}] {bytes} ({bytes_per_sec}) {msg}"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}

pub fn gen_data(count: u64, seed: u64, output: Option<&Path>) -> anyhow::Result<ExitCode> {
    let config = babyshield_datagen::synthetic::SyntheticConfig { count, seed };
    let written = match output {
        Some(path) => {
            let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
            let mut out = BufWriter::with_capacity(1 << 20, file);
            let n = babyshield_datagen::synthetic::write_synthetic(&config, &mut out)?;
            out.flush()?;
            n
        }
        None => {
            let mut out = BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
            let n = babyshield_datagen::synthetic::write_synthetic(&config, &mut out)?;
            out.flush()?;
            n
        }
    };
    eprintln!("wrote {written} synthetic recalls (seed {seed})");
    Ok(ExitCode::SUCCESS)
}

/// The accounts service over the configured database (migrated), for the
/// operator verbs.
async fn accounts(config_path: Option<&Path>) -> anyhow::Result<babyshield_server::accounts::Accounts> {
    let config = load(config_path)?;
    telemetry::init_logging(&config.log);
    let secrets = Secrets::resolve(&config)?;
    let store = open_store(&config).await?;
    if config.database.migrate_on_start {
        store.migrate().await.context("cannot migrate the database")?;
    }
    babyshield_server::accounts::Accounts::new(&config, &secrets, store)
}

pub async fn create_admin(config_path: Option<&Path>, email: &str) -> anyhow::Result<ExitCode> {
    let accounts = accounts(config_path).await?;
    let password = match std::env::var("BABYSHIELD_ADMIN_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            if std::io::stdin().is_terminal() {
                eprint!("password for {email}: ");
            }
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).context("cannot read the password from stdin")?;
            line.trim_end_matches(['\r', '\n']).to_string()
        }
    };
    let id = accounts.create_admin(email, password).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("admin account {id} ready");
    accounts.store().close().await;
    Ok(ExitCode::SUCCESS)
}

pub async fn rotate_keys(config_path: Option<&Path>) -> anyhow::Result<ExitCode> {
    let accounts = accounts(config_path).await?;
    let report = accounts
        .rotate_keys(|n| eprintln!("re-sealed {n} accounts so far"))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "re-sealed {} accounts, {} outbox messages and {} family values with the current key; 0 left on older keys",
        report.resealed, report.resealed_mail, report.resealed_family
    );
    accounts.store().close().await;
    Ok(ExitCode::SUCCESS)
}

pub async fn verify_audit(config_path: Option<&Path>) -> anyhow::Result<ExitCode> {
    let accounts = accounts(config_path).await?;
    let verdict = accounts.verify_audit().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    accounts.store().close().await;
    match verdict {
        Ok(rows) => {
            println!("audit trail intact: {rows} rows verified");
            Ok(ExitCode::SUCCESS)
        }
        Err(broken) => {
            println!("audit trail BROKEN at seq {}: {:?}", broken.seq, broken.kind);
            Ok(ExitCode::FAILURE)
        }
    }
}

pub async fn outbox(config_path: Option<&Path>, limit: i64) -> anyhow::Result<ExitCode> {
    let accounts = accounts(config_path).await?;
    let messages = accounts.outbox(limit.clamp(1, 1000)).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    accounts.store().close().await;
    if messages.is_empty() {
        println!("the outbox is empty");
    }
    for (created_at, to, subject, body) in messages {
        println!("--- {created_at}\nTo: {to}\nSubject: {subject}\n\n{body}");
    }
    Ok(ExitCode::SUCCESS)
}
