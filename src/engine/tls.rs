//! TLS to the system database, with libpq's `sslmode` semantics, for every connection the engine
//! opens (the pool, the database creation, the listener).
//!
//! The settings come from the URL's query (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`, and
//! node-postgres's `ssl`), as libpq and node-postgres read them. tokio-postgres's own parser rejects
//! these keys and knows only disable/prefer/require, so they are taken out of the URL here and the
//! rest is handed to it. Messages never name a certificate or key path, nor echo the URL.

use std::path::PathBuf;
use std::sync::Arc;

use percent_encoding::percent_decode_str;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres::config::SslMode as PgSslMode;
use tokio_postgres::Config;
pub use tokio_postgres_rustls::MakeRustlsConnect as Tls;

use super::error::{EngineError, Result};

/// libpq's modes, plus node-postgres's `no-verify` (TLS required, nothing verified).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Disable,
    Allow,
    Prefer,
    Require,
    NoVerify,
    VerifyCa,
    VerifyFull,
}

/// What the server's certificate must satisfy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verify {
    Nothing,
    /// Chains to a trusted root (libpq's verify-ca); any host name.
    Chain,
    /// Chains to a trusted root and names the host connected to (verify-full).
    Full,
}

/// The TLS keys of a URL's query, as given.
#[derive(Debug, Default)]
pub struct Settings {
    sslmode: Option<String>,
    ssl: Option<String>,
    root_cert: Option<String>,
    cert: Option<String>,
    key: Option<String>,
}

/// The keys tokio-postgres does not take (or takes with fewer values) and we handle instead.
/// `uselibpqcompat` is node-postgres's switch to libpq's semantics, which we always follow.
const TLS_KEYS: [&str; 6] = [
    "sslmode",
    "ssl",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "uselibpqcompat",
];

fn invalid(message: &str) -> EngineError {
    EngineError::initialization(format!("invalid system database URL: {message}"))
}

/// Sets `config`'s `ssl_mode` from the URL's TLS settings (`split_url`) and builds the connector
/// every connection of the engine uses. Reads the certificate and key files, unless TLS is disabled.
pub fn connector(settings: &Settings, config: &mut Config) -> Result<Tls> {
    let mode = resolve_mode(settings, config)?;
    let verify = match mode {
        Mode::Disable | Mode::Allow | Mode::Prefer | Mode::NoVerify => Verify::Nothing,
        // As libpq: `require` with a root certificate given verifies the chain.
        Mode::Require if settings.root_cert.is_some() => Verify::Chain,
        Mode::Require => Verify::Nothing,
        Mode::VerifyCa => Verify::Chain,
        Mode::VerifyFull => Verify::Full,
    };
    config.ssl_mode(match mode {
        Mode::Disable => PgSslMode::Disable,
        // tokio-postgres has no `allow` (plain first, TLS if refused): `prefer` connects to every
        // server `allow` connects to, the other way round.
        Mode::Allow | Mode::Prefer => PgSslMode::Prefer,
        Mode::Require | Mode::NoVerify | Mode::VerifyCa | Mode::VerifyFull => PgSslMode::Require,
    });
    let tls = if mode == Mode::Disable {
        // Never used (tokio-postgres skips TLS when disabled); no file is read, as in libpq.
        client_config(Verify::Nothing, None, None)?
    } else {
        let roots = match verify {
            Verify::Nothing => None,
            Verify::Chain | Verify::Full => Some(root_store(settings.root_cert.as_deref())?),
        };
        client_config(verify, roots, client_identity(settings)?)?
    };
    Ok(Tls::new(tls))
}

/// Takes the TLS keys out of a `postgres://` URL's query. A `key=value` connection string is left
/// whole (tokio-postgres parses its `sslmode`).
pub fn split_url(url: &str) -> (String, Settings) {
    let mut settings = Settings::default();
    let is_url = url.starts_with("postgres://") || url.starts_with("postgresql://");
    let Some((base, query)) = url.split_once('?').filter(|_| is_url) else {
        return (url.to_string(), settings);
    };
    let mut kept = Vec::new();
    for pair in query.split('&') {
        let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode_str(raw_key).decode_utf8_lossy();
        if !TLS_KEYS.contains(&key.as_ref()) {
            kept.push(pair);
            continue;
        }
        let value = percent_decode_str(raw_value)
            .decode_utf8_lossy()
            .into_owned();
        match key.as_ref() {
            "sslmode" => settings.sslmode = Some(value),
            "ssl" => settings.ssl = Some(value),
            "sslrootcert" => settings.root_cert = Some(value),
            "sslcert" => settings.cert = Some(value),
            "sslkey" => settings.key = Some(value),
            _ => {}
        }
    }
    let rest = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (rest, settings)
}

fn resolve_mode(settings: &Settings, config: &Config) -> Result<Mode> {
    let system_roots = settings.root_cert.as_deref() == Some("system");
    let Some(mode) = settings.sslmode.as_deref() else {
        return Ok(match settings.ssl.as_deref() {
            // node-postgres's `ssl=true`: TLS, verified against the trusted roots.
            Some("true") | Some("1") => Mode::VerifyFull,
            Some("false") | Some("0") => Mode::Disable,
            Some(_) => return Err(invalid("ssl must be true, 1, false or 0")),
            // As libpq: `sslrootcert=system` makes verify-full the default.
            None if system_roots => Mode::VerifyFull,
            None => match config.get_ssl_mode() {
                PgSslMode::Disable => Mode::Disable,
                PgSslMode::Require => Mode::Require,
                _ => Mode::Prefer,
            },
        });
    };
    let mode = match mode {
        "disable" => Mode::Disable,
        "allow" => Mode::Allow,
        "prefer" => Mode::Prefer,
        "require" => Mode::Require,
        "no-verify" => Mode::NoVerify,
        "verify-ca" => Mode::VerifyCa,
        "verify-full" => Mode::VerifyFull,
        _ => return Err(invalid(
            "sslmode must be disable, allow, prefer, require, verify-ca, verify-full or no-verify",
        )),
    };
    if system_roots && mode != Mode::VerifyFull && mode != Mode::Disable {
        // libpq refuses this too: trusting every public CA without checking the name proves nothing.
        return Err(invalid("sslrootcert=system requires sslmode=verify-full"));
    }
    Ok(mode)
}

/// The trusted roots: the `sslrootcert` file, or the system's store for `system`; without one,
/// libpq's default file `~/.postgresql/root.crt` if it exists, else the system's store (as
/// node-postgres, which trusts Node's roots).
fn root_store(root_cert: Option<&str>) -> Result<RootCertStore> {
    let default_file = std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".postgresql/root.crt"))
        .filter(|p| p.is_file());
    let mut store = RootCertStore::empty();
    let file = match root_cert {
        Some("system") => None,
        Some(path) => Some(PathBuf::from(path)),
        None => default_file,
    };
    match file {
        Some(path) => {
            for cert in read_certs(&path, "sslrootcert")? {
                store
                    .add(cert)
                    .map_err(|_| invalid("the sslrootcert file holds an invalid certificate"))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(found.certs);
            if store.is_empty() {
                return Err(EngineError::initialization(
                    "cannot verify the system database's certificate: no trusted root certificates \
                     in the system store (set sslrootcert in the URL)",
                ));
            }
        }
    }
    Ok(store)
}

/// PEM certificates from a file; the error names the URL key, never the path.
fn read_certs(path: &std::path::Path, key: &str) -> Result<Vec<CertificateDer<'static>>> {
    let pem = std::fs::read(path).map_err(|e| {
        EngineError::initialization(format!("cannot read the {key} file: {}", io_reason(&e)))
    })?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|_| invalid(&format!("the {key} file is not a PEM certificate file")))?;
    if certs.is_empty() {
        return Err(invalid(&format!("the {key} file holds no PEM certificate")));
    }
    Ok(certs)
}

/// The reason of an I/O error without the OS's message (which holds no path, but keep it short).
fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        kind => kind.to_string(),
    }
}

type Identity = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

/// The client certificate and its key (`sslcert`, `sslkey`), when given: both or neither.
fn client_identity(settings: &Settings) -> Result<Option<Identity>> {
    let (cert, key) = match (&settings.cert, &settings.key) {
        (None, None) => return Ok(None),
        (Some(cert), Some(key)) => (cert, key),
        _ => return Err(invalid("sslcert and sslkey must be given together")),
    };
    let certs = read_certs(std::path::Path::new(cert), "sslcert")?;
    let pem = std::fs::read(key).map_err(|e| {
        EngineError::initialization(format!("cannot read the sslkey file: {}", io_reason(&e)))
    })?;
    let key = PrivateKeyDer::from_pem_slice(&pem).map_err(|_| {
        invalid("the sslkey file holds no unencrypted PEM private key (PKCS#8, PKCS#1 or SEC1)")
    })?;
    Ok(Some((certs, key)))
}

fn client_config(
    verify: Verify,
    roots: Option<RootCertStore>,
    identity: Option<Identity>,
) -> Result<ClientConfig> {
    // ring, not aws-lc-rs: aws-lc-rs needs cmake and clang at build time, which a CI machine may
    // lack. rustls deprecates ring's provider only for lacking post-quantum key exchange.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = match (verify, roots) {
        (Verify::Chain | Verify::Full, Some(roots)) => {
            let webpki =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| {
                        EngineError::initialization(format!("cannot set up TLS verification: {e}"))
                    })?;
            if verify == Verify::Full {
                webpki
            } else {
                Arc::new(ChainOnly(webpki))
            }
        }
        _ => Arc::new(Unverified(provider.clone())),
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| EngineError::initialization(format!("cannot set up TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    match identity {
        Some((certs, key)) => builder.with_client_auth_cert(certs, key).map_err(|_| {
            invalid("the sslkey file's key does not match the sslcert file's certificate")
        }),
        None => Ok(builder.with_no_client_auth()),
    }
}

/// verify-ca: the chain must lead to a trusted root; the host name is not checked. The webpki
/// verifier checks the chain before the name, so a name error means the chain passed.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// prefer, require (without a root certificate), no-verify: encryption without authenticating the
/// server, as libpq does in these modes. The handshake's signatures are still checked, so the
/// session is bound to the certificate presented.
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_keys_leave_the_url() {
        let (rest, s) = split_url(
            "postgresql://u:p@h:5/db?connect_timeout=3&sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.pem&application_name=x",
        );
        assert_eq!(
            rest,
            "postgresql://u:p@h:5/db?connect_timeout=3&application_name=x"
        );
        assert_eq!(s.sslmode.as_deref(), Some("verify-full"));
        assert_eq!(s.root_cert.as_deref(), Some("/tmp/ca.pem"));
        let (rest, _) = split_url("postgres://h/db?sslmode=disable");
        assert_eq!(rest, "postgres://h/db");
    }
}
