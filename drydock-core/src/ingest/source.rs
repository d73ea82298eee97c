//! Resolving a design reference to bytes (compat: site-design spec §1.2):
//! a plain path, `file://`, `http(s)://` (basic auth from the URL's
//! userinfo) and `deckhand+http(s)://` / `promenade+http(s)://` (a Keystone
//! token when a token provider is configured). This is the only I/O of the
//! design path.
//!
//! Each call makes one attempt; retries belong to the caller's retry policy,
//! which can ask [`SourceError::is_transient`].

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;

use crate::ids::DesignRef;

/// Why a design reference could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The scheme has no handler.
    #[error("Invalid reference scheme {scheme}: no handler")]
    UnsupportedScheme {
        /// The scheme given.
        scheme: String,
    },
    /// The file or document does not exist.
    #[error("design {reference} not found")]
    NotFound {
        /// The reference (credentials redacted).
        reference: String,
    },
    /// The server refused our credentials.
    #[error("not authorised to read design {reference} (HTTP {status})")]
    Unauthorized {
        /// The reference (credentials redacted).
        reference: String,
        /// The HTTP status.
        status: u16,
    },
    /// Could not reach or read the source; worth retrying.
    #[error("could not read design {reference}: {detail}")]
    Unreachable {
        /// The reference (credentials redacted).
        reference: String,
        /// What failed.
        detail: String,
    },
    /// The design is larger than the configured limit.
    #[error("design {reference} is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The reference (credentials redacted).
        reference: String,
        /// The limit.
        limit: usize,
    },
}

impl SourceError {
    /// Whether a retry may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, SourceError::Unreachable { .. })
    }
}

/// The bytes of a design and what they claim to be.
#[derive(Debug, Clone)]
pub struct SourceBytes {
    /// The content.
    pub bytes: Vec<u8>,
    /// A name for diagnostics (a path, or the redacted URL).
    pub name: String,
}

/// Supplies Keystone tokens for `deckhand+http` references.
#[async_trait]
pub trait TokenProvider: Send + Sync {
    /// A valid token (never logged).
    async fn token(&self) -> Result<crate::ids::Secret, SourceError>;
}

/// Reads design references.
#[async_trait]
pub trait DesignSource: Send + Sync {
    /// Read the design behind `reference`.
    async fn fetch(&self, reference: &DesignRef) -> Result<SourceBytes, SourceError>;
}

/// The standard resolver for every supported scheme.
#[derive(Clone, Default)]
pub struct DefaultSource {
    /// Largest design accepted, in bytes (default 512 MiB).
    pub max_bytes: Option<usize>,
    /// Keystone tokens for `deckhand+`/`promenade+` references.
    pub tokens: Option<Arc<dyn TokenProvider>>,
    /// Connect and read timeouts (defaults 16 s and 300 s, compat §1.2).
    pub timeouts: Option<(std::time::Duration, std::time::Duration)>,
}

impl std::fmt::Debug for DefaultSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DefaultSource").field("max_bytes", &self.max_bytes).finish_non_exhaustive()
    }
}

const DEFAULT_MAX_BYTES: usize = 512 << 20;

/// How a reference is read.
#[derive(Debug, PartialEq, Eq)]
pub enum Scheme {
    /// A local file.
    File(PathBuf),
    /// Plain HTTP(S).
    Http(String),
    /// HTTP(S) with a Keystone token (`deckhand+`/`promenade+`).
    KeystoneHttp(String),
}

/// Decide how to read `reference`.
pub fn scheme_of(reference: &str) -> Result<Scheme, SourceError> {
    let Some((scheme, rest)) = reference.split_once("://") else {
        return Ok(Scheme::File(PathBuf::from(reference)));
    };
    match scheme {
        "file" => {
            // compat §1.2: the authority is ignored; the path is what follows it.
            let path = match rest.find('/') {
                Some(position) => &rest[position..],
                None => "",
            };
            Ok(Scheme::File(PathBuf::from(path)))
        }
        "http" | "https" => Ok(Scheme::Http(reference.to_owned())),
        "deckhand+http" | "deckhand+https" | "promenade+http" | "promenade+https" => {
            let inner = scheme.split_once('+').map(|(_, inner)| inner).unwrap_or("http");
            Ok(Scheme::KeystoneHttp(format!("{inner}://{rest}")))
        }
        other => Err(SourceError::UnsupportedScheme { scheme: other.to_owned() }),
    }
}

#[async_trait]
impl DesignSource for DefaultSource {
    async fn fetch(&self, reference: &DesignRef) -> Result<SourceBytes, SourceError> {
        let limit = self.max_bytes.unwrap_or(DEFAULT_MAX_BYTES);
        match scheme_of(reference.as_str())? {
            Scheme::File(path) => read_file(path, reference, limit).await,
            #[cfg(feature = "remote-sources")]
            Scheme::Http(url) => self.fetch_http(&url, reference, limit, false).await,
            #[cfg(feature = "remote-sources")]
            Scheme::KeystoneHttp(url) => self.fetch_http(&url, reference, limit, true).await,
            #[cfg(not(feature = "remote-sources"))]
            Scheme::Http(_) | Scheme::KeystoneHttp(_) => {
                Err(SourceError::UnsupportedScheme { scheme: "http (built without remote-sources)".into() })
            }
        }
    }
}

async fn read_file(path: PathBuf, reference: &DesignRef, limit: usize) -> Result<SourceBytes, SourceError> {
    let name = path.display().to_string();
    // A path that cannot name a file (a NUL byte, too long, through a file)
    // names nothing, like a missing one: the caller's mistake, not an outage.
    let metadata = tokio::fs::metadata(&path).await.map_err(|error| match error.kind() {
        std::io::ErrorKind::NotFound
        | std::io::ErrorKind::InvalidInput
        | std::io::ErrorKind::InvalidFilename
        | std::io::ErrorKind::NotADirectory => SourceError::NotFound { reference: reference.to_string() },
        _ => SourceError::Unreachable { reference: reference.to_string(), detail: error.to_string() },
    })?;
    if metadata.len() > limit as u64 {
        return Err(SourceError::TooLarge { reference: reference.to_string(), limit });
    }
    if metadata.is_dir() {
        return Err(SourceError::NotFound { reference: reference.to_string() });
    }
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|error| SourceError::Unreachable { reference: reference.to_string(), detail: error.to_string() })?;
    Ok(SourceBytes { bytes, name })
}

#[cfg(feature = "remote-sources")]
impl DefaultSource {
    async fn fetch_http(&self, url: &str, reference: &DesignRef, limit: usize, keystone: bool) -> Result<SourceBytes, SourceError> {
        let redacted = reference.to_string();
        let (connect, read) = self.timeouts.unwrap_or((std::time::Duration::from_secs(16), std::time::Duration::from_secs(300)));
        let client = reqwest::Client::builder()
            .connect_timeout(connect)
            .timeout(read)
            .build()
            .map_err(|error| SourceError::Unreachable { reference: redacted.clone(), detail: error.to_string() })?;
        let mut parsed = reqwest::Url::parse(url)
            .map_err(|error| SourceError::Unreachable { reference: redacted.clone(), detail: format!("invalid URL: {error}") })?;
        let user = parsed.username().to_owned();
        let password = parsed.password().map(str::to_owned);
        let _ = parsed.set_username("");
        let _ = parsed.set_password(None);
        let mut request = client.get(parsed);
        if !user.is_empty() {
            request = request.basic_auth(user, password);
        }
        if keystone && let Some(tokens) = &self.tokens {
            let token = tokens.token().await?;
            request = request.header("X-Auth-Token", token.expose());
        }
        let response = request
            .send()
            .await
            .map_err(|error| SourceError::Unreachable { reference: redacted.clone(), detail: error.without_url().to_string() })?;
        let status = response.status().as_u16();
        // compat §1.2: plain http returns the body whatever the status; the
        // keystone schemes treat >= 400 as an error. We report 401/403/404
        // as errors for both, since a parsed error page helps nobody.
        match status {
            401 | 403 => return Err(SourceError::Unauthorized { reference: redacted, status }),
            404 => return Err(SourceError::NotFound { reference: redacted }),
            500.. => {
                return Err(SourceError::Unreachable { reference: redacted, detail: format!("HTTP {status}") });
            }
            400.. if keystone => {
                return Err(SourceError::Unreachable { reference: redacted, detail: format!("HTTP {status}") });
            }
            _ => {}
        }
        if response.content_length().is_some_and(|length| length > limit as u64) {
            return Err(SourceError::TooLarge { reference: redacted, limit });
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|error| SourceError::Unreachable { reference: redacted.clone(), detail: error.without_url().to_string() })?;
        if bytes.len() > limit {
            return Err(SourceError::TooLarge { reference: redacted, limit });
        }
        Ok(SourceBytes { bytes: bytes.to_vec(), name: redacted })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes() {
        assert_eq!(scheme_of("site.yaml").ok(), Some(Scheme::File("site.yaml".into())));
        assert_eq!(scheme_of("file:///srv/site.yaml").ok(), Some(Scheme::File("/srv/site.yaml".into())));
        assert_eq!(scheme_of("file://host/x").ok(), Some(Scheme::File("/x".into())));
        assert_eq!(scheme_of("https://h/x").ok(), Some(Scheme::Http("https://h/x".into())));
        assert_eq!(
            scheme_of("deckhand+http://dh:9000/api/v1.0/revisions/1/rendered-documents").ok(),
            Some(Scheme::KeystoneHttp("http://dh:9000/api/v1.0/revisions/1/rendered-documents".into()))
        );
        let error = scheme_of("ftp://x/y").expect_err("ftp");
        assert_eq!(error.to_string(), "Invalid reference scheme ftp: no handler");
        assert!(!error.is_transient());
    }

    #[tokio::test]
    async fn missing_file_is_not_found() {
        let source = DefaultSource::default();
        let error = source.fetch(&DesignRef("/definitely/not/here.yaml".into())).await.expect_err("missing");
        assert!(matches!(error, SourceError::NotFound { .. }));
        for hostile in ["bad\0name.yaml", "/etc/hostname/inside.yaml", &format!("/{}", "x".repeat(5000))] {
            let error = source.fetch(&DesignRef(hostile.to_owned())).await.expect_err("names nothing");
            assert!(matches!(error, SourceError::NotFound { .. }), "{hostile:.40}: {error}");
        }
    }
}
