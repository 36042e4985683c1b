//! The `folio` command line: `serve`, `types check|plan`, `import`, `export`, `reindex`,
//! `user create`, `audit verify`. Each command
//! builds the one [`Config`] from the layers and calls into the library; nothing here holds
//! logic of its own beyond presenting results.

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::{Config, LogFormat, Overrides};
use crate::error::{Error, Result};

#[derive(Parser)]
#[command(
    name = "folio",
    version,
    about = "A headless CMS: typed content, an admin API and a fast delivery API"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Global {
    /// Config file (default: ./folio.toml when it exists).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data directory (database, generated secrets). [env: FOLIO_DATA_DIR]
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Address to listen on. [env: FOLIO_LISTEN]
    #[arg(long, global = true, value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
    /// Content-type directory. [env: FOLIO_CONTENT_TYPES]
    #[arg(long, global = true, value_name = "DIR")]
    content_types: Option<PathBuf>,
    /// Database URL: surrealkv://PATH, mem://, ws://HOST:PORT. [env: FOLIO_DATABASE]
    #[arg(long, global = true, value_name = "URL")]
    database: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server.
    Serve {
        /// Apply content-type changes that drop stored data.
        #[arg(long)]
        allow_destructive: bool,
    },
    /// Check or preview content types.
    #[command(subcommand)]
    Types(TypesCommand),
    /// Import entries from a JSON Lines file.
    Import {
        /// The content type to import into.
        #[arg(long = "type", value_name = "TYPE")]
        type_id: String,
        /// The file: one entry per line.
        file: PathBuf,
    },
    /// Export every entry of a type as JSON Lines to standard output.
    Export {
        /// The content type to export.
        #[arg(long = "type", value_name = "TYPE")]
        type_id: String,
        /// Write to this file instead of standard output.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Rebuild the search index from the database, with a progress bar. With the server
    /// running (it holds the embedded database), asks it to rebuild through the admin API:
    /// searches keep using the current index until the new one replaces it.
    Reindex {
        /// Only this content type (repeat for several; default every searchable type).
        #[arg(long = "type", value_name = "TYPE")]
        types: Vec<String>,
        /// The running server to ask (default: http:// and the configured listen address).
        #[arg(long, value_name = "URL")]
        server: Option<String>,
        /// An administrator's API token or session token, for a running server.
        #[arg(long, env = "FOLIO_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Work with the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Print the admin or delivery OpenAPI document for the content types (what
    /// `/openapi/*.json` serves), for generating API clients.
    Openapi {
        /// `admin` or `delivery`.
        #[arg(value_parser = ["admin", "delivery"])]
        which: String,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user. The password is read from standard input (one line), or prompted for
    /// without echo on a terminal.
    Create {
        #[arg(long)]
        email: String,
        /// admin, editor, author or viewer.
        #[arg(long)]
        role: String,
        #[arg(long, default_value = "")]
        name: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the audit log's hash chain: an edited, deleted or inserted record is reported.
    Verify,
}

#[derive(Subcommand)]
enum TypesCommand {
    /// Validate the content-type files and report every error with file and line.
    Check,
    /// Print what start-up would change in the database.
    Plan,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let allow_destructive = match &cli.command {
        Command::Serve { allow_destructive } => Some(*allow_destructive).filter(|a| *a),
        _ => None,
    };
    let overrides = Overrides {
        listen: cli.global.listen,
        data_dir: cli.global.data_dir.clone(),
        content_types: cli.global.content_types.clone(),
        database: cli.global.database.clone(),
        allow_destructive,
    };
    let config = match Config::load(cli.global.config.as_deref(), &overrides) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(&config);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, config)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

async fn run(command: Command, config: Config) -> Result<ExitCode> {
    match command {
        Command::Serve { .. } => {
            crate::run(config).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Types(TypesCommand::Check) => {
            let schema = crate::load_schema(&config.content_types)?;
            if let Err(errors) = crate::plugins::PluginHost::default().check(&schema) {
                for e in &errors {
                    eprintln!("{e}");
                }
                return Ok(ExitCode::FAILURE);
            }
            for ct in schema.types() {
                println!(
                    "ok  {:<20} {} field(s)  {}",
                    ct.id,
                    ct.fields.len(),
                    ct.source.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Openapi { which } => {
            let schema = crate::load_schema(&config.content_types)?;
            println!(
                "{}",
                crate::api::openapi_json(&schema, &config, which == "admin")
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Types(TypesCommand::Plan) => {
            let schema = crate::load_schema(&config.content_types)?;
            let store = crate::storage::Store::connect(&config).await?;
            let plan = store.plan_schema(&schema).await?;
            print!("{plan}");
            if plan.destructive().next().is_some() {
                println!(
                    "\nChanges marked ! drop stored data: start-up refuses them without --allow-destructive."
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Import { type_id, file } => {
            let prepared = crate::prepare(&config.for_batch_work()).await?;
            let ct = prepared.content.content_type(&type_id)?;
            let f =
                File::open(&file).map_err(|e| Error::Config(format!("{}: {e}", file.display())))?;
            let size = f.metadata().map(|m| m.len()).unwrap_or(0);
            let bar = ProgressBar::new(size);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            let started = std::time::Instant::now();
            let report = prepared
                .content
                .import(&ct, BufReader::new(f), "import", |read| {
                    bar.set_position(read)
                })
                .await?;
            bar.finish_and_clear();
            let secs = started.elapsed().as_secs_f64();
            for (line, msg) in &report.errors {
                eprintln!("{}:{line}: {msg}", file.display());
            }
            println!(
                "imported {} {} entr{} in {secs:.1}s ({:.0}/s); {} line(s) refused",
                report.imported,
                type_id,
                if report.imported == 1 { "y" } else { "ies" },
                report.imported as f64 / secs.max(0.001),
                report.errors.len()
            );
            let store = prepared.content.store().clone();
            drop(prepared);
            store.close().await;
            Ok(if report.errors.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(3)
            })
        }
        Command::Reindex {
            types,
            server,
            token,
        } => {
            let running = server.is_some() || database_in_use(&config);
            if running {
                let base = server.unwrap_or_else(|| format!("http://{}", config.listen));
                let token = token.ok_or_else(|| {
                    Error::Config(
                        "the server is running: give an administrator's token with --token or \
                         FOLIO_TOKEN so it rebuilds the index itself (or stop it first)"
                            .into(),
                    )
                })?;
                return reindex_remote(&base, &token, &types).await;
            }
            let prepared = crate::prepare(&config.for_batch_work()).await?;
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {prefix} {wide_bar} {pos}/{len} ({per_sec})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            let started = std::time::Instant::now();
            let rebuilt = prepared
                .search
                .rebuild_now(&types, |type_id, done, total| {
                    bar.set_prefix(type_id.to_owned());
                    bar.set_length(total);
                    bar.set_position(done);
                })
                .await;
            bar.finish_and_clear();
            let store = prepared.content.store().clone();
            drop(prepared);
            store.close().await;
            rebuilt?;
            println!(
                "search index rebuilt in {:.1}s",
                started.elapsed().as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::User(UserCommand::Create { email, role, name }) => {
            let password = read_password()?;
            let prepared = crate::prepare(&config).await?;
            let user = prepared
                .accounts
                .create_user("cli", None, &email, &name, &role, Some(password))
                .await;
            let store = prepared.content.store().clone();
            drop(prepared);
            let user = match user {
                Ok(u) => u,
                Err(Error::Validation(errors)) => {
                    for e in errors {
                        eprintln!("{}: {}", e.path, e.message);
                    }
                    store.close().await;
                    return Ok(ExitCode::from(2));
                }
                Err(e) => {
                    store.close().await;
                    return Err(e);
                }
            };
            println!("created {} ({}) as {}", user.email, user.id, user.role);
            store.close().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit(AuditCommand::Verify) => {
            let prepared = crate::prepare(&config).await?;
            let store = prepared.content.store().clone();
            drop(prepared);
            let found = crate::accounts::audit::verify(&store).await;
            store.close().await;
            let found = found?;
            for (seq, problem) in &found.problems {
                println!("record {seq}: {problem}");
            }
            println!("{} record(s); latest hash {}", found.records, found.head);
            Ok(if found.problems.is_empty() {
                println!("the audit log is intact");
                ExitCode::SUCCESS
            } else {
                println!("the audit log has been tampered with");
                ExitCode::from(4)
            })
        }
        Command::Export { type_id, output } => {
            let prepared = crate::prepare(&config).await?;
            let ct = prepared.content.content_type(&type_id)?;
            let n = match output {
                Some(path) => {
                    let mut f = std::io::BufWriter::new(File::create(&path)?);
                    let n = prepared.content.export(&ct, &mut f).await?;
                    f.flush()?;
                    n
                }
                None => {
                    let stdout = std::io::stdout();
                    let mut lock = std::io::BufWriter::new(stdout.lock());
                    let n = prepared.content.export(&ct, &mut lock).await?;
                    lock.flush()?;
                    n
                }
            };
            eprintln!("exported {n} {type_id} entries");
            let store = prepared.content.store().clone();
            drop(prepared);
            store.close().await;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Whether another process (a running server) holds the embedded database.
fn database_in_use(config: &Config) -> bool {
    let url = config.database_url();
    let Some(path) = url.strip_prefix("surrealkv://") else {
        return false;
    };
    match File::open(std::path::Path::new(path).join("LOCK")) {
        Ok(f) => match f.try_lock() {
            Ok(()) => {
                let _ = f.unlock();
                false
            }
            Err(_) => true,
        },
        Err(_) => false,
    }
}

/// Asks a running server to rebuild, then follows its progress until it is done.
async fn reindex_remote(base: &str, token: &str, types: &[String]) -> Result<ExitCode> {
    let body = serde_json::json!({ "types": types }).to_string();
    let (status, answer) = http(
        base,
        "POST",
        "/admin/api/v1/search/reindex",
        token,
        Some(&body),
    )
    .await?;
    if status != 202 {
        return Err(Error::Config(format!(
            "the server refused the rebuild ({status}): {}",
            answer["message"].as_str().unwrap_or("no reason given")
        )));
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {prefix} {wide_bar} {pos}/{len}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        let (status, answer) =
            http(base, "GET", "/admin/api/v1/search/status", token, None).await?;
        if status != 200 {
            return Err(Error::Config(format!(
                "the server answered {status} for the index status"
            )));
        }
        let data = &answer["data"];
        let rebuilding = data["rebuilding"].as_object().cloned().unwrap_or_default();
        let queued = data["queued"].as_array().map_or(0, Vec::len);
        if let Some((type_id, p)) = rebuilding.iter().next() {
            bar.set_prefix(type_id.clone());
            bar.set_length(p["total"].as_u64().unwrap_or(0));
            bar.set_position(p["done"].as_u64().unwrap_or(0));
        }
        if rebuilding.is_empty() && queued == 0 {
            bar.finish_and_clear();
            if let Some(e) = data["last_error"].as_str() {
                eprintln!("the server reports: {e}");
            }
            println!(
                "search index rebuilt in {:.1}s",
                started.elapsed().as_secs_f64()
            );
            return Ok(ExitCode::SUCCESS);
        }
    }
}

/// One plain HTTP/1.1 request to a Folio server (the CLI talks to its own server only).
async fn http(
    base: &str,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&str>,
) -> Result<(u16, serde_json::Value)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = base
        .strip_prefix("http://")
        .map(|h| h.trim_end_matches('/'))
        .ok_or_else(|| Error::Config(format!("{base}: only http:// servers can be asked")))?;
    let mut stream = tokio::net::TcpStream::connect(host)
        .await
        .map_err(|e| Error::Config(format!("cannot reach the server at {base}: {e}")))?;
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw);
    let (head, payload) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Error::Config(format!("{base} did not answer HTTP")))?;
    Ok((status, serde_json::from_str(payload).unwrap_or_default()))
}

/// A new password: prompted for without echo on a terminal, else one line of standard input.
fn read_password() -> Result<String> {
    use std::io::IsTerminal;
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Password again: ")?;
        if first != again {
            return Err(Error::Config("the passwords differ".into()));
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    if password.is_empty() {
        return Err(Error::Config(
            "no password given: pipe one line to standard input".into(),
        ));
    }
    Ok(password)
}
