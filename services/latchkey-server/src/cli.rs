//! The `latchkey` command line: `serve`, `migrate`, `sweep`, `consumer
//! add|list|disable|enable` for operators without a gRPC client, and helpers that make
//! keys and credentials.

use crate::config::Config;
use crate::outbound::Outbound;
use crate::startup::{Application, open_backend};
use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use latchkey_core::authority::Caller;
use latchkey_core::cipher::SecretCipher;
use latchkey_core::clock::SystemClock;
use latchkey_core::credentials::{digest_credential, hash_credential};
use latchkey_core::oauth1::SignatureMethod;
use latchkey_core::oauth1::consumers::{ConsumerChanges, ConsumerDraft, SharedSecretChoice};
use latchkey_core::oauth1::records::TwoLeggedPolicy;
use latchkey_core::store::SweepJob;
use secrecy::{ExposeSecret, SecretString};
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

/// Latchkey: an OAuth 1.0a token authority with a gRPC API.
#[derive(Debug, Parser)]
#[command(name = "latchkey", version)]
pub struct Cli {
    /// Configuration file (default: ./latchkey.toml when present).
    #[arg(long, global = true, env = "LATCHKEY_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the gRPC and HTTP servers until SIGTERM or Ctrl-C.
    Serve,
    /// Applies pending database migrations and exits.
    Migrate,
    /// Runs the sweeper once (every job, or the ones named) and exits; for a
    /// Kubernetes CronJob when `sweeper.enabled` is off in the servers.
    Sweep {
        /// Jobs to run (default: all).
        #[arg(value_enum)]
        jobs: Vec<SweepJobArg>,
    },
    /// Manages consumers directly in the database.
    #[command(subcommand)]
    Consumer(Box<ConsumerCommand>),
    /// Makes a caller credential and the hash the configuration takes.
    #[command(subcommand)]
    Credential(CredentialCommand),
    /// Makes encryption keys.
    #[command(subcommand)]
    Key(KeyCommand),
}

#[derive(Debug, Subcommand)]
enum ConsumerCommand {
    /// Registers a consumer.
    Add(AddConsumer),
    /// Lists consumers.
    List,
    /// Disables a consumer: its signed requests fail with consumer_key_rejected.
    Disable {
        /// The consumer key.
        key: String,
    },
    /// Enables a consumer again.
    Enable {
        /// The consumer key.
        key: String,
    },
    /// Changes a consumer's 2-legged OAuth settings, as Jira's incoming-link screen
    /// does; a setting not given stays as it is.
    TwoLegged(TwoLeggedArgs),
}

#[derive(Debug, clap::Args)]
struct TwoLeggedArgs {
    /// The consumer key.
    key: String,
    /// Allow requests signed with no oauth_token (true or false).
    #[arg(long)]
    allow: Option<bool>,
    /// The user such requests act as; "" for none.
    #[arg(long)]
    execute_as: Option<String>,
    /// Allow such requests to name their user in xoauth_requestor_id (true or false).
    #[arg(long)]
    impersonation: Option<bool>,
}

#[derive(Debug, clap::Args)]
struct AddConsumer {
    /// Add the application at this base URL from its consumer-info document, as
    /// Jira's Consumers tab does; --key, --name and the rest override what it says.
    #[arg(long)]
    from_url: Option<String>,
    /// The oauth_consumer_key.
    #[arg(long, required_unless_present = "from_url")]
    key: Option<String>,
    /// Display name shown on the consent screen.
    #[arg(long, required_unless_present = "from_url")]
    name: Option<String>,
    /// Description shown on the consent screen.
    #[arg(long, default_value = "")]
    description: String,
    /// Callbacks must lie under this URL.
    #[arg(long)]
    callback: Option<String>,
    /// File with the consumer's RSA public key (PEM) or X.509 certificate.
    #[arg(long)]
    public_key_file: Option<PathBuf>,
    /// Generate a shared secret for HMAC-SHA1 and print it once.
    #[arg(long, conflicts_with = "shared_secret_stdin")]
    generate_shared_secret: bool,
    /// Read the shared secret from standard input.
    #[arg(long)]
    shared_secret_stdin: bool,
    /// Allowed signature methods (default: from the credentials given).
    #[arg(long = "method", value_enum)]
    methods: Vec<MethodArg>,
    /// Access-token lifetime in seconds (default: the server's).
    #[arg(long)]
    access_token_ttl: Option<u64>,
    /// Access-token idle timeout in seconds (default: the server's).
    #[arg(long)]
    access_token_idle_timeout: Option<u64>,
    /// Allow 2-legged requests (signed with no oauth_token).
    #[arg(long)]
    two_legged: bool,
    /// The user 2-legged requests act as (default: none).
    #[arg(long, requires = "two_legged")]
    execute_as: Option<String>,
    /// Allow 2-legged requests to name their user in xoauth_requestor_id.
    #[arg(long, requires = "two_legged")]
    impersonation: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SweepJobArg {
    Nonces,
    RequestTokens,
    AccessTokens,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum MethodArg {
    RsaSha1,
    HmacSha1,
    Plaintext,
}

#[derive(Debug, Subcommand)]
enum CredentialCommand {
    /// Generates a random 256-bit credential; prints it and its `sha256:` digest,
    /// which is what the configuration takes.
    Generate,
    /// Hashes a credential read from standard input: with argon2 for one a person
    /// chose, or as a `sha256:` digest (`--digest`) for one with 256 random bits.
    Hash {
        /// Print the SHA-256 digest instead of an argon2 hash. Only for credentials as
        /// random as `credential generate` makes them: a digest does not slow guessing.
        #[arg(long)]
        digest: bool,
    },
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Generates an encryption key (32 random bytes, base64).
    Generate,
}

/// Runs the command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Credential(command) => return credential(command),
        Command::Key(KeyCommand::Generate) => {
            println!("{}", SecretCipher::generate_key());
            return Ok(());
        }
        _ => {}
    }
    let config = Config::load(cli.config.as_deref())?;
    // Held until `run` returns, so the last lines are flushed.
    let _log_writer = crate::telemetry::init(&config.log).context("starting the log writer")?;
    match cli.command {
        Command::Serve => {
            let app = Application::build(config)
                .await
                .context("latchkey cannot start")?;
            app.run_until_stopped().await?;
        }
        Command::Migrate => {
            open_backend(&config, Arc::new(SystemClock), true).await?;
            println!("migrations applied");
        }
        Command::Sweep { jobs } => sweep(&config, &jobs).await?,
        Command::Consumer(command) => consumer(&config, *command).await?,
        Command::Credential(_) | Command::Key(_) => {}
    }
    Ok(())
}

fn credential(command: CredentialCommand) -> anyhow::Result<()> {
    let hash = match command {
        CredentialCommand::Generate => {
            let credential =
                latchkey_core::secret::new_token_value(&latchkey_core::secret::OsRandomness);
            println!("credential: {credential}");
            digest_credential(&credential)
        }
        CredentialCommand::Hash { digest: true } => {
            digest_credential(read_stdin()?.expose_secret())
        }
        CredentialCommand::Hash { digest: false } => {
            hash_credential(read_stdin()?.expose_secret()).map_err(anyhow::Error::msg)?
        }
    };
    println!("hash:       {hash}");
    Ok(())
}

fn read_stdin() -> anyhow::Result<SecretString> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text)?;
    let text = text.trim_end_matches(['\r', '\n']).to_owned();
    anyhow::ensure!(!text.is_empty(), "nothing on standard input");
    Ok(SecretString::from(text))
}

async fn sweep(config: &Config, jobs: &[SweepJobArg]) -> anyhow::Result<()> {
    let backend = open_backend(config, Arc::new(SystemClock), config.migrate_on_start()).await?;
    let jobs: Vec<SweepJob> = if jobs.is_empty() {
        SweepJob::ALL.to_vec()
    } else {
        jobs.iter()
            .map(|job| match job {
                SweepJobArg::Nonces => SweepJob::Nonces,
                SweepJobArg::RequestTokens => SweepJob::RequestTokens,
                SweepJobArg::AccessTokens => SweepJob::AccessTokens,
            })
            .collect()
    };
    for job in jobs {
        let report = backend
            .sweeper
            .run(job)
            .await
            .with_context(|| format!("sweeping {}", job.name()))?;
        println!(
            "{}\t{:?}\tremoved {}\tin {} ms",
            job.name(),
            report.outcome,
            report.removed,
            report.elapsed.as_millis()
        );
    }
    Ok(())
}

async fn consumer(config: &Config, command: ConsumerCommand) -> anyhow::Result<()> {
    let backend = open_backend(config, Arc::new(SystemClock), config.migrate_on_start()).await?;
    let authority = backend.authority;
    let operator = Caller::OPERATOR;
    match command {
        ConsumerCommand::Add(add) => {
            let public_key = match &add.public_key_file {
                Some(path) => Some(
                    std::fs::read_to_string(path)
                        .with_context(|| format!("reading {}", path.display()))?,
                ),
                None => None,
            };
            let shared_secret = if add.generate_shared_secret {
                SharedSecretChoice::Generate
            } else if add.shared_secret_stdin {
                SharedSecretChoice::Given(read_stdin()?)
            } else {
                SharedSecretChoice::None
            };
            let draft = ConsumerDraft {
                key: add.key.unwrap_or_default(),
                name: add.name.unwrap_or_default(),
                description: add.description,
                callback_url: add.callback,
                public_key,
                shared_secret,
                signature_methods: add
                    .methods
                    .iter()
                    .map(|m| match m {
                        MethodArg::RsaSha1 => SignatureMethod::RsaSha1,
                        MethodArg::HmacSha1 => SignatureMethod::HmacSha1,
                        MethodArg::Plaintext => SignatureMethod::Plaintext,
                    })
                    .collect(),
                access_token_ttl_seconds: add.access_token_ttl,
                access_token_idle_seconds: add.access_token_idle_timeout,
                two_legged: Some(TwoLeggedPolicy {
                    allowed: add.two_legged,
                    execute_as: add.execute_as,
                    impersonation: add.impersonation,
                }),
            };
            let registered = match &add.from_url {
                None => authority.register_consumer(&operator, draft).await?,
                Some(url) => {
                    let outbound = Outbound::new().context("building the HTTP client")?;
                    let fetch = outbound.consumer_info(url);
                    authority
                        .register_consumer_from_info(&operator, draft, fetch)
                        .await?
                }
            };
            println!("registered consumer {}", registered.consumer.key);
            if let Some(secret) = registered.generated_secret {
                println!("shared secret (shown once): {}", secret.expose_secret());
            }
        }
        ConsumerCommand::List => {
            let mut token = String::new();
            loop {
                let page = authority.list_consumers(&operator, 500, &token).await?;
                for c in &page.consumers {
                    let methods: Vec<&str> =
                        c.signature_methods.iter().map(|m| m.as_str()).collect();
                    println!(
                        "{}\t{}\t{}\t{}",
                        c.key,
                        if c.enabled { "enabled" } else { "disabled" },
                        methods.join(","),
                        c.name
                    );
                }
                match page.next_page_token {
                    Some(next) => token = next,
                    None => break,
                }
            }
        }
        ConsumerCommand::Disable { key } => {
            authority
                .set_consumer_enabled(&operator, &key, false)
                .await?;
            println!("disabled consumer {key}");
        }
        ConsumerCommand::Enable { key } => {
            authority
                .set_consumer_enabled(&operator, &key, true)
                .await?;
            println!("enabled consumer {key}");
        }
        ConsumerCommand::TwoLegged(args) => {
            let mut policy = authority
                .get_consumer(&operator, &args.key)
                .await?
                .two_legged;
            if let Some(allow) = args.allow {
                policy.allowed = allow;
            }
            if let Some(user) = args.execute_as {
                policy.execute_as = Some(user);
            }
            if let Some(impersonation) = args.impersonation {
                policy.impersonation = impersonation;
            }
            let changes = ConsumerChanges {
                two_legged: Some(policy),
                ..ConsumerChanges::default()
            };
            let updated = authority
                .update_consumer(&operator, &args.key, changes)
                .await?;
            let link = &updated.two_legged;
            println!(
                "consumer {}: 2-legged {}, execute as {}, impersonation {}",
                updated.key,
                if link.allowed { "allowed" } else { "refused" },
                link.execute_as.as_deref().unwrap_or("no user"),
                if link.impersonation {
                    "allowed"
                } else {
                    "refused"
                },
            );
        }
    }
    Ok(())
}
