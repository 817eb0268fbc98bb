//! Sending through the platform's SMTP server (`lettre`): plain, STARTTLS (required) or
//! implicit TLS, certificates checked against the system's CAs plus `CAIRN_SMTP_CA_FILE`.

use std::time::Duration;

use cairn_core::config::SmtpConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// How long one SMTP read may take.
pub const TIMEOUT: Duration = Duration::from_secs(15);
/// How long sending one message may take in all (well within the sender's lock, which a
/// silent sender loses after `LOCK_EXPIRY_SECS`).
pub const EXCHANGE_LIMIT: Duration = Duration::from_secs(25);

/// A configured SMTP client.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    /// The sender address.
    pub from: lettre::message::Mailbox,
    describe: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe)
    }
}

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The configuration cannot make a client.
    #[error("{0}")]
    Config(String),
    /// The server refused or could not be reached.
    #[error("SMTP {server}: {reason}")]
    Smtp {
        /// `host:port`.
        server: String,
        /// What went wrong, with the certificate hint when it is one.
        reason: String,
    },
}

fn explain(e: &lettre::transport::smtp::Error) -> String {
    // lettre's Display stops at the top error: walk the sources for the cause.
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    let lower = text.to_lowercase();
    if lower.contains("unknownissuer") || lower.contains("certificate") && lower.contains("invalid")
    {
        text.push_str(" (the server's certificate is not signed by a trusted CA: add its CA to CAIRN_SMTP_CA_FILE)");
    }
    text
}

impl Mailer {
    /// A client for the configured server (nothing is sent yet).
    pub fn new(cfg: &SmtpConfig) -> Result<Mailer, SendError> {
        let from: lettre::message::Mailbox = cfg.from.parse().map_err(|e| {
            SendError::Config(format!(
                "CAIRN_REPORTS_FROM {:?} is not an address: {e}",
                cfg.from
            ))
        })?;
        let host = cfg.host.trim();
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(cfg.port)
            .timeout(Some(TIMEOUT));
        let mode = if cfg.use_ssl || cfg.use_tls {
            let mut params = TlsParameters::builder(host.to_owned());
            if !cfg.ca_file.trim().is_empty() {
                let pem = std::fs::read(cfg.ca_file.trim()).map_err(|e| {
                    SendError::Config(format!("CAIRN_SMTP_CA_FILE {}: {e}", cfg.ca_file))
                })?;
                let cert = Certificate::from_pem(&pem).map_err(|e| {
                    SendError::Config(format!(
                        "CAIRN_SMTP_CA_FILE {}: not a PEM certificate: {e}",
                        cfg.ca_file
                    ))
                })?;
                params = params.add_root_certificate(cert);
            }
            let params = params
                .build_rustls()
                .map_err(|e| SendError::Config(format!("SMTP TLS settings: {e}")))?;
            if cfg.use_ssl {
                builder = builder.tls(Tls::Wrapper(params));
                "implicit TLS"
            } else {
                builder = builder.tls(Tls::Required(params));
                "STARTTLS"
            }
        } else {
            "no TLS"
        };
        if !cfg.username.is_empty() {
            builder = builder.credentials(Credentials::new(
                cfg.username.clone(),
                cfg.password.expose().to_owned(),
            ));
        }
        Ok(Mailer {
            transport: builder.build(),
            from,
            describe: format!("SMTP {host}:{} ({mode})", cfg.port),
        })
    }

    /// `host:port (mode)`, for messages.
    pub fn describe(&self) -> &str {
        &self.describe
    }

    /// Sends one message; `Ok` once the server accepted it. The whole exchange is bounded
    /// by [`EXCHANGE_LIMIT`] (lettre's timeout covers single reads; a server that stops
    /// answering mid-exchange must not outlive the sender's lock).
    pub async fn send(&self, m: Message) -> Result<(), SendError> {
        match tokio::time::timeout(EXCHANGE_LIMIT, self.transport.send(m)).await {
            Ok(r) => r.map(|_| ()).map_err(|e| SendError::Smtp {
                server: self.describe.clone(),
                reason: explain(&e),
            }),
            Err(_) => Err(SendError::Smtp {
                server: self.describe.clone(),
                reason: format!("no answer within {} s", EXCHANGE_LIMIT.as_secs()),
            }),
        }
    }
}
