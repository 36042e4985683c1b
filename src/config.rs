//! The one configuration type, read from defaults, then `folio.toml`, then `FOLIO_*`
//! environment variables, then command-line flags — each layer overriding the one before.
//!
//! Unknown keys are refused at every layer so a typo never silently falls back to a default.
//! Derived values (the database URL, resolved paths) are computed once in [`Config::load`];
//! nothing else in the crate reads the environment or the config file.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Default config file, read if it exists (an explicit `--config` must exist).
pub const DEFAULT_CONFIG_FILE: &str = "folio.toml";

#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the HTTP server binds.
    pub listen: SocketAddr,
    /// Where the embedded database, search index, media and generated secrets live.
    pub data_dir: PathBuf,
    /// Directory of content-type files.
    pub content_types: PathBuf,
    /// Database URL: `surrealkv://PATH` (default: `DATA_DIR/db`), `mem://`, or `ws://host:port`.
    pub database: Option<String>,
    pub database_namespace: String,
    pub database_name: String,
    /// Root credentials for a `ws://` database server.
    pub database_username: Option<String>,
    pub database_password: Option<String>,
    /// Memory the embedded store (SurrealKV) keeps for blocks it has read, in MiB. What it
    /// does not keep is read again from the operating system's file cache.
    pub database_cache_mib: u64,
    /// Memory the embedded store gathers writes in before it writes them out as a sorted
    /// file, in MiB (two such buffers may exist while one is written out). One transaction
    /// must fit in it: content-type changes that rewrite a table do so in batches of rows, and
    /// a batch of an import too large for it is written line by line instead. Left to itself
    /// SurrealKV would size it from the machine's memory (1 GiB from 16 GiB up), which a
    /// write-heavy server then holds resident, and which made imports slower.
    pub database_write_buffer_mib: u64,
    /// How many days change events are kept once every reader inside Folio is past them
    /// (1–365): what systems outside Folio that follow the log may fall behind by.
    pub events_keep_days: u64,
    /// The address users reach the server at (`https://cms.example.com`), for links in
    /// messages and the `Secure` cookie flag. Default: `http://` and the listen address.
    pub public_url: Option<String>,
    /// Origins (`https://www.example.com`) whose pages may call the APIs from a browser.
    pub cors_origins: Vec<String>,
    /// Roles whose users must use two-factor login (until they set it up, their sessions
    /// reach only their own account).
    pub two_factor_roles: Vec<String>,
    /// Apply schema changes that drop data.
    pub allow_destructive: bool,
    pub limits: Limits,
    pub sessions: Sessions,
    pub mail: MailConfig,
    pub search: SearchConfig,
    pub media: MediaConfig,
    pub log: LogConfig,
}

#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MediaConfig {
    /// Where media bytes live: unset for `DATA_DIR/media/`, `file:///abs/dir`, or
    /// `s3://bucket/prefix` for any S3-compatible store.
    pub store: Option<String>,
    /// For `s3://`: the endpoint of a non-AWS store (`http://127.0.0.1:9000`), the region,
    /// and the credentials (else the usual `AWS_*` environment variables apply).
    pub s3_endpoint: Option<String>,
    pub s3_region: Option<String>,
    pub s3_access_key_id: Option<String>,
    pub s3_secret_access_key: Option<String>,
    /// Largest single file, in MiB.
    pub max_file_mib: u64,
    /// Largest upload request (all its files together), in MiB.
    pub max_request_mib: u64,
    /// MIME patterns accepted anywhere (`image/*`, `application/pdf`); media fields narrow
    /// this with `accept`.
    pub allowed_types: Vec<String>,
    /// Largest image accepted, in pixels (width × height), so a small file declaring huge
    /// dimensions cannot exhaust memory when decoded.
    pub max_image_pixels: u64,
    /// Largest width or height a transform may ask for.
    pub max_transform_dimension: u32,
    /// Most stored variants (sizes, crops, formats) per image; beyond it only variants
    /// already made are served.
    pub max_variants: usize,
    /// Transforms computed at once (each takes a core while it runs).
    pub transform_concurrency: usize,
    /// Memory image work (uploads' measuring, transforms) may hold between all its jobs at
    /// once, in MiB, by each job's estimate; a job estimated above it runs alone.
    pub image_memory_mib: u64,
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            store: None,
            s3_endpoint: None,
            s3_region: None,
            s3_access_key_id: None,
            s3_secret_access_key: None,
            max_file_mib: 50,
            max_request_mib: 200,
            allowed_types: [
                "image/jpeg",
                "image/png",
                "image/gif",
                "image/webp",
                "image/avif",
                "application/pdf",
                "text/plain",
                "text/csv",
                "application/json",
                "application/zip",
                "video/*",
                "audio/*",
            ]
            .map(String::from)
            .to_vec(),
            max_image_pixels: 100_000_000,
            max_transform_dimension: 4096,
            max_variants: 40,
            transform_concurrency: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            image_memory_mib: 256,
        }
    }
}

impl fmt::Debug for MediaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediaConfig")
            .field("store", &self.store)
            .field("s3_endpoint", &self.s3_endpoint)
            .field("s3_region", &self.s3_region)
            .field("s3_access_key_id", &self.s3_access_key_id)
            .field(
                "s3_secret_access_key",
                &self.s3_secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .field("max_file_mib", &self.max_file_mib)
            .field("max_request_mib", &self.max_request_mib)
            .field("allowed_types", &self.allowed_types)
            .field("max_image_pixels", &self.max_image_pixels)
            .field("max_transform_dimension", &self.max_transform_dimension)
            .field("max_variants", &self.max_variants)
            .field("transform_concurrency", &self.transform_concurrency)
            .field("image_memory_mib", &self.image_memory_mib)
            .finish()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SearchConfig {
    /// The language of entries of types without `locales` (its stemmer is used): `en`, `fr`,
    /// `de`, `es`, ... or any other code for plain words.
    pub language: String,
    /// How long the indexer gathers changes before it commits them, in milliseconds.
    pub commit_interval_ms: u64,
    /// Memory the indexer may use for changes not yet committed, in MiB (at least 15).
    pub writer_memory_mib: usize,
}

impl Default for SearchConfig {
    fn default() -> Self {
        Self {
            language: "en".into(),
            commit_interval_ms: 100,
            writer_memory_mib: 24,
        }
    }
}

#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    /// `smtp://user:pass@host:587?tls=required` (STARTTLS), `smtps://user:pass@host` (TLS),
    /// `smtp://host:25` (a local relay, plain); unset, messages are written as `.eml` files
    /// under `DATA_DIR/mail/`.
    pub url: Option<String>,
    /// The sender.
    pub from: String,
    /// Seconds before the first retry of a failed delivery; each further failure doubles it.
    pub retry_seconds: u64,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            url: None,
            from: "Folio <folio@localhost>".into(),
            retry_seconds: 30,
        }
    }
}

impl fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may carry the SMTP password.
        f.debug_struct("MailConfig")
            .field("url", &self.url.as_ref().map(|_| "<redacted>"))
            .field("from", &self.from)
            .field("retry_seconds", &self.retry_seconds)
            .finish()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Sessions {
    /// A sign-in session unused for this many minutes ends.
    pub idle_minutes: u64,
    /// A sign-in session ends this many days after sign-in, used or not.
    pub absolute_days: u64,
}

impl Default for Sessions {
    fn default() -> Self {
        Self {
            idle_minutes: 12 * 60,
            absolute_days: 30,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// `limit` when a list request gives none.
    pub default_limit: u32,
    /// Largest `limit` a list request may ask for.
    pub max_limit: u32,
    /// Most `filter[...]` parameters in one request.
    pub max_filters: usize,
    /// Deepest `populate` path (`author.avatar` is 2).
    pub max_populate_depth: usize,
    /// Filtered list totals are counted up to this many and reported as a lower bound beyond.
    pub max_count: u64,
    /// Related entries `populate` may include in one response, over every path.
    pub max_populate_entries: usize,
    /// Bytes (as stored) of the related entries `populate` may include in one response.
    pub max_populate_bytes: usize,
    /// Connections open at once; kept below the open-file limit whatever is set here.
    pub max_connections: usize,
    /// Seconds a client has to send a request's headers: the first request's from when the
    /// connection opens, a later one's from its first byte.
    pub header_timeout_seconds: u64,
    /// Seconds a connection waits for the next request after answering one. Keep it above the
    /// idle timeout of a proxy or load balancer in front (commonly 60 s).
    pub keep_alive_seconds: u64,
    /// Longest pause, in seconds, between two pieces of a request body.
    pub body_timeout_seconds: u64,
    /// Seconds after which a connection on which no byte moves either way is closed.
    pub idle_timeout_seconds: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 2 * 1024 * 1024,
            default_limit: 25,
            max_limit: 100,
            max_filters: 20,
            max_populate_depth: 2,
            max_count: 10_000,
            max_populate_entries: 1000,
            max_populate_bytes: 8 * 1024 * 1024,
            max_connections: 10_000,
            header_timeout_seconds: 10,
            keep_alive_seconds: 75,
            body_timeout_seconds: 30,
            idle_timeout_seconds: 60,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` for people, `json` for log collectors.
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `folio=debug,info`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            // SurrealDB closes the store itself on shutdown (and `Store::close` waits for it);
            // a leftover handle of the storage engine dropped afterwards on a thread without
            // a runtime warns that it cannot close the store again, which is noise.
            level: "info,surrealdb=warn,surrealkv=warn,surrealkv::lsm=error,html5ever=error".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            content_types: PathBuf::from("./content-types"),
            database: None,
            database_namespace: "folio".into(),
            database_name: "main".into(),
            database_username: None,
            database_password: None,
            database_cache_mib: 64,
            database_write_buffer_mib: 128,
            events_keep_days: 7,
            public_url: None,
            cors_origins: Vec::new(),
            two_factor_roles: Vec::new(),
            allow_destructive: false,
            limits: Limits::default(),
            sessions: Sessions::default(),
            mail: MailConfig::default(),
            search: SearchConfig::default(),
            media: MediaConfig::default(),
            log: LogConfig::default(),
        }
    }
}

/// The command-line layer: only what was given on the command line is `Some`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_types: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_destructive: Option<bool>,
}

impl Config {
    /// Layers defaults, the config file, `FOLIO_*` variables and `overrides`.
    ///
    /// `file` is the `--config` path; without it `folio.toml` in the working directory is
    /// read when present. Nested keys come from the environment with `__`:
    /// `FOLIO_LIMITS__MAX_LIMIT=50`.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Config> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) => {
                if !path.is_file() {
                    return Err(Error::Config(format!(
                        "config file {} does not exist",
                        path.display()
                    )));
                }
                figment = figment.merge(Toml::file_exact(path));
            }
            None if Path::new(DEFAULT_CONFIG_FILE).is_file() => {
                figment = figment.merge(Toml::file_exact(DEFAULT_CONFIG_FILE));
            }
            None => {}
        }
        let config: Config = figment
            // FOLIO_TOKEN is a credential for commands that talk to a running server, not a
            // setting.
            .merge(Env::prefixed("FOLIO_").ignore(&["TOKEN"]).split("__"))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(|e| Error::Config(format!("configuration: {e}")))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<()> {
        let l = &self.limits;
        if l.max_limit == 0 || l.default_limit == 0 || l.default_limit > l.max_limit {
            return Err(Error::Config(
                "configuration: limits.default_limit must be between 1 and limits.max_limit".into(),
            ));
        }
        if l.max_body_bytes < 1024 {
            return Err(Error::Config(
                "configuration: limits.max_body_bytes must be at least 1024".into(),
            ));
        }
        if l.max_connections == 0
            || l.max_populate_entries == 0
            || l.max_populate_bytes < 1024
            || [
                l.header_timeout_seconds,
                l.keep_alive_seconds,
                l.body_timeout_seconds,
                l.idle_timeout_seconds,
            ]
            .contains(&0)
        {
            return Err(Error::Config(
                "configuration: limits.max_connections, limits.max_populate_entries and the \
                 limits.*_timeout_seconds must be at least 1, limits.max_populate_bytes at \
                 least 1024"
                    .into(),
            ));
        }
        if !(16..=4095).contains(&self.database_write_buffer_mib) {
            return Err(Error::Config(
                "configuration: database_write_buffer_mib must be between 16 and 4095".into(),
            ));
        }
        if !(1..=365).contains(&self.events_keep_days) {
            return Err(Error::Config(
                "configuration: events_keep_days must be between 1 and 365".into(),
            ));
        }
        if self.search.writer_memory_mib < 15 {
            return Err(Error::Config(
                "configuration: search.writer_memory_mib must be at least 15".into(),
            ));
        }
        let m = &self.media;
        if m.max_file_mib == 0 || m.max_request_mib < m.max_file_mib {
            return Err(Error::Config(
                "configuration: media.max_file_mib must be at least 1 and at most \
                 media.max_request_mib"
                    .into(),
            ));
        }
        if m.transform_concurrency == 0
            || m.image_memory_mib < 16
            || !(16..=16_384).contains(&m.max_transform_dimension)
        {
            return Err(Error::Config(
                "configuration: media.transform_concurrency must be at least 1, \
                 media.image_memory_mib at least 16 and media.max_transform_dimension between \
                 16 and 16384"
                    .into(),
            ));
        }
        if let Some(url) = m
            .store
            .as_ref()
            .filter(|u| !u.starts_with("s3://") && !u.starts_with("file:///"))
        {
            return Err(Error::Config(format!(
                "configuration: media.store `{url}` is not a supported URL \
                 (file:///ABSOLUTE/DIR or s3://BUCKET/PREFIX)"
            )));
        }
        if let Some(url) = &self.database {
            let known = ["mem://", "memory", "surrealkv://", "ws://", "wss://"];
            if !known.iter().any(|p| url.starts_with(p)) {
                return Err(Error::Config(format!(
                    "configuration: database `{url}` is not a supported URL \
                     (surrealkv://PATH, mem://, ws://HOST:PORT)"
                )));
            }
        }
        Ok(())
    }

    /// The database URL to connect to, defaulting to SurrealKV inside the data directory.
    pub fn database_url(&self) -> String {
        match &self.database {
            Some(url) => url.clone(),
            None => format!("surrealkv://{}", self.data_dir.join("db").display()),
        }
    }
}

/// The least block cache, in MiB, of a command that works through a whole table alone.
const BATCH_CACHE_MIB: u64 = 256;

impl Config {
    /// This configuration for `folio import` and `folio reindex`: they run alone and briefly,
    /// and every unique value and relation an import checks is a lookup, so they get a larger
    /// block cache than the long-running server's (measured at 100k articles: 750 imported a
    /// second with 64 MiB, about 1,200 with 128).
    pub fn for_batch_work(&self) -> Config {
        let mut c = self.clone();
        c.database_cache_mib = c.database_cache_mib.max(BATCH_CACHE_MIB);
        c
    }

    /// Where users reach the server, without a trailing slash.
    pub fn public_base(&self) -> String {
        match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }

    /// Whether users reach the server over TLS, so cookies are marked `Secure`.
    pub fn secure_cookies(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = |s: &Option<String>| s.as_ref().map(|_| "<redacted>");
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("content_types", &self.content_types)
            .field("database", &self.database)
            .field("database_namespace", &self.database_namespace)
            .field("database_name", &self.database_name)
            .field("database_username", &self.database_username)
            .field("database_password", &redact(&self.database_password))
            .field("public_url", &self.public_url)
            .field("cors_origins", &self.cors_origins)
            .field("two_factor_roles", &self.two_factor_roles)
            .field("allow_destructive", &self.allow_destructive)
            .field("limits", &self.limits)
            .field("sessions", &self.sessions)
            .field("mail", &self.mail)
            .field("search", &self.search)
            .field("media", &self.media)
            .field("log", &self.log)
            .finish()
    }
}

#[cfg(test)]
#[expect(
    clippy::result_large_err,
    reason = "figment's Jail closures return figment::Error, which is large"
)]
mod tests {
    use super::*;
    use figment::Jail;

    #[test]
    fn each_layer_overrides_the_one_before() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "folio.toml",
                r#"
                listen = "127.0.0.1:9000"
                data_dir = "/from/file"
                content_types = "/types/from/file"
                [limits]
                max_limit = 50
                "#,
            )?;
            // Defaults alone where nothing else speaks.
            let c = Config::load(None, &Overrides::default()).unwrap();
            assert_eq!(c.listen.port(), 9000);
            assert_eq!(c.data_dir, PathBuf::from("/from/file"));
            assert_eq!(c.limits.max_limit, 50);
            assert_eq!(c.limits.default_limit, 25);

            // The environment beats the file, nested keys included.
            jail.set_env("FOLIO_DATA_DIR", "/from/env");
            jail.set_env("FOLIO_LIMITS__MAX_LIMIT", "60");
            let c = Config::load(None, &Overrides::default()).unwrap();
            assert_eq!(c.data_dir, PathBuf::from("/from/env"));
            assert_eq!(c.limits.max_limit, 60);
            assert_eq!(c.listen.port(), 9000);

            // Flags beat the environment.
            let flags = Overrides {
                data_dir: Some("/from/flag".into()),
                listen: Some("127.0.0.1:9100".parse().unwrap()),
                ..Overrides::default()
            };
            let c = Config::load(None, &flags).unwrap();
            assert_eq!(c.data_dir, PathBuf::from("/from/flag"));
            assert_eq!(c.listen.port(), 9100);
            assert_eq!(c.content_types, PathBuf::from("/types/from/file"));
            Ok(())
        });
    }

    #[test]
    fn defaults_without_a_file() {
        Jail::expect_with(|_| {
            let c = Config::load(None, &Overrides::default()).unwrap();
            assert_eq!(c.listen, "127.0.0.1:8080".parse::<SocketAddr>().unwrap());
            assert_eq!(c.data_dir, PathBuf::from("./data"));
            assert_eq!(c.database_url(), "surrealkv://./data/db");
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_are_refused_in_the_file_and_the_environment() {
        Jail::expect_with(|jail| {
            jail.create_file("folio.toml", "lisen = \"127.0.0.1:1\"\n")?;
            let err = Config::load(None, &Overrides::default()).unwrap_err();
            assert!(err.to_string().contains("lisen"), "{err}");
            Ok(())
        });
        Jail::expect_with(|jail| {
            jail.set_env("FOLIO_DATADIR", "/x");
            let err = Config::load(None, &Overrides::default()).unwrap_err();
            assert!(err.to_string().contains("datadir"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn store_memory_outside_its_bounds_is_refused() {
        for bad in ["8", "5000"] {
            Jail::expect_with(|jail| {
                jail.set_env("FOLIO_DATABASE_WRITE_BUFFER_MIB", bad);
                let err = Config::load(None, &Overrides::default()).unwrap_err();
                assert!(
                    err.to_string().contains("database_write_buffer_mib"),
                    "{err}"
                );
                Ok(())
            });
        }
        Jail::expect_with(|jail| {
            jail.set_env("FOLIO_DATABASE_WRITE_BUFFER_MIB", "64");
            let c = Config::load(None, &Overrides::default()).unwrap();
            assert_eq!(c.database_write_buffer_mib, 64);
            Ok(())
        });
    }

    #[test]
    fn event_retention_is_a_day_to_a_year() {
        for bad in ["0", "366", "soon"] {
            Jail::expect_with(|jail| {
                jail.set_env("FOLIO_EVENTS_KEEP_DAYS", bad);
                let err = Config::load(None, &Overrides::default()).unwrap_err();
                assert!(
                    err.to_string().to_lowercase().contains("events_keep_days"),
                    "{bad}: {err}"
                );
                Ok(())
            });
        }
        Jail::expect_with(|jail| {
            jail.set_env("FOLIO_EVENTS_KEEP_DAYS", "30");
            let c = Config::load(None, &Overrides::default()).unwrap();
            assert_eq!(c.events_keep_days, 30);
            Ok(())
        });
    }

    #[test]
    fn batch_commands_get_more_cache_unless_configured() {
        let c = Config::default().for_batch_work();
        assert_eq!(c.database_cache_mib, 256);
        assert_eq!(Config::default().database_cache_mib, 64);
        let set = Config {
            database_cache_mib: 512,
            ..Config::default()
        };
        assert_eq!(set.for_batch_work().database_cache_mib, 512);
    }

    #[test]
    fn a_missing_explicit_config_file_is_an_error() {
        Jail::expect_with(|_| {
            let err = Config::load(Some(Path::new("nope.toml")), &Overrides::default());
            assert!(err.is_err());
            Ok(())
        });
    }

    #[test]
    fn debug_output_redacts_secrets() {
        let c = Config {
            database_password: Some("pw-value".into()),
            mail: MailConfig {
                url: Some("smtp://u:smtp-secret@host".into()),
                ..MailConfig::default()
            },
            media: MediaConfig {
                s3_secret_access_key: Some("s3-secret".into()),
                ..MediaConfig::default()
            },
            ..Config::default()
        };
        let shown = format!("{c:?}");
        assert!(!shown.contains("pw-value") && !shown.contains("smtp-secret"));
        assert!(!shown.contains("s3-secret"));
        assert!(shown.contains("<redacted>"));
    }
}
