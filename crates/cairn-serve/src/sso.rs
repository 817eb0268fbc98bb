//! Signing in with the LMS: the OAuth2 authorization code flow with PKCE against the
//! LMS's provider (django-oauth-toolkit), then `/api/user/v1/me` and the account for who
//! the user is. The LMS's tokens stay on the server (for revocation at sign-out); the
//! browser only ever holds the dashboard's own session cookie and a flow's `state`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, TokenResponse,
    TokenUrl,
};
use serde::Deserialize;

/// How long a started sign-in may take before its `state` is refused.
pub const FLOW_TTL: Duration = Duration::from_secs(600);
/// Sign-ins in progress kept at most (the oldest are dropped first).
const MAX_FLOWS: usize = 10_000;

type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// The LMS as an OAuth2 provider, and the sign-ins in progress.
pub struct Sso {
    client: Client,
    http: reqwest::Client,
    lms_url: String,
    client_id: String,
    client_secret: String,
    flows: Mutex<HashMap<String, (PkceCodeVerifier, Instant)>>,
}

impl std::fmt::Debug for Sso {
    /// The LMS only: never the client secret or a flow.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sso")
            .field("lms_url", &self.lms_url)
            .finish()
    }
}

/// Who signed in, as the LMS says.
#[derive(Debug, Clone)]
pub struct LmsIdentity {
    /// The LMS username.
    pub username: String,
    /// The LMS's access token (server-side only).
    pub access_token: String,
}

/// Why a sign-in with the LMS failed: each a page for the person and a log line for the
/// operator.
#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    /// The `state` is unknown, used already, expired, or not this browser's.
    #[error("the sign-in's state is unknown, used or expired (CSRF check)")]
    State,
    /// The LMS answered with `error=…` (the user denied access, or another refusal).
    #[error("the LMS refused the authorization: {0}")]
    Refused(String),
    /// The code was refused at the token endpoint (reused, forged or expired).
    #[error("the LMS refused the authorization code (invalid_grant)")]
    Code,
    /// The LMS does not accept Cairn's client id or secret.
    #[error(
        "the LMS refused Cairn's OAuth2 client (invalid_client): check CAIRN_SSO_CLIENT_ID and CAIRN_SSO_CLIENT_SECRET"
    )]
    Client,
    /// The LMS could not be reached, or answered with a server error or nonsense.
    #[error("the LMS cannot be reached or failed: {0}")]
    Unreachable(String),
    /// The user's identity could not be read (`/api/user/v1/me` or the account).
    #[error("reading the user from the LMS failed: {0}")]
    Profile(String),
    /// The LMS account is disabled.
    #[error("the LMS account {0} is not active")]
    Inactive(String),
}

impl SsoError {
    /// The HTTP status of the page.
    pub fn status(&self) -> u16 {
        match self {
            SsoError::State | SsoError::Code => 400,
            SsoError::Refused(_) | SsoError::Inactive(_) => 403,
            SsoError::Client | SsoError::Unreachable(_) | SsoError::Profile(_) => 502,
        }
    }

    /// What the page tells the person.
    pub fn message(&self) -> &'static str {
        match self {
            SsoError::State => {
                "This sign-in was not started here or took too long. Please sign in again."
            }
            SsoError::Refused(_) => "The LMS did not let you sign in to Cairn.",
            SsoError::Code => {
                "The LMS did not accept this sign-in (it was used already). Please sign in again."
            }
            SsoError::Client => {
                "Cairn's registration at the LMS is not right. Please tell your Open edX administrator."
            }
            SsoError::Unreachable(_) | SsoError::Profile(_) => {
                "The LMS cannot be reached right now. Please try again in a moment."
            }
            SsoError::Inactive(_) => "Your LMS account is not active.",
        }
    }
}

#[derive(Deserialize)]
struct Me {
    username: String,
}

#[derive(Deserialize)]
struct Account {
    #[serde(default = "active_by_default")]
    is_active: bool,
}

fn active_by_default() -> bool {
    true
}

fn url_error(what: &str, e: impl std::fmt::Display) -> String {
    format!("invalid {what}: {e}")
}

impl Sso {
    /// The provider at `lms_url` (`https://lms.example.org`) for the application
    /// `client_id`/`client_secret`, whose redirect URI is `dashboard_url` +
    /// `/login/lms/callback`.
    pub fn new(
        lms_url: &str,
        dashboard_url: &str,
        client_id: &str,
        client_secret: &str,
    ) -> Result<Sso, String> {
        let lms = lms_url.trim_end_matches('/');
        let client = BasicClient::new(ClientId::new(client_id.to_owned()))
            .set_client_secret(ClientSecret::new(client_secret.to_owned()))
            .set_auth_uri(
                AuthUrl::new(format!("{lms}/oauth2/authorize"))
                    .map_err(|e| url_error("CAIRN_LMS_URL", e))?,
            )
            .set_token_uri(
                TokenUrl::new(format!("{lms}/oauth2/access_token"))
                    .map_err(|e| url_error("CAIRN_LMS_URL", e))?,
            )
            .set_redirect_uri(
                RedirectUrl::new(Self::redirect_uri(dashboard_url))
                    .map_err(|e| url_error("CAIRN_DASHBOARD_URL", e))?,
            );
        let http = reqwest::Client::builder()
            // Following redirects would open the token exchange to SSRF.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Sso {
            client,
            http,
            lms_url: lms.to_owned(),
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            flows: Mutex::new(HashMap::new()),
        })
    }

    /// The redirect URI to register in the LMS for a dashboard at `dashboard_url`.
    pub fn redirect_uri(dashboard_url: &str) -> String {
        format!("{}/login/lms/callback", dashboard_url.trim_end_matches('/'))
    }

    /// The LMS's public URL.
    pub fn lms_url(&self) -> &str {
        &self.lms_url
    }

    /// The LMS's URL without its scheme, as the sign-in button names it.
    pub fn lms_host(&self) -> &str {
        self.lms_url
            .trim_start_matches("https://")
            .trim_start_matches("http://")
    }

    /// Starts a sign-in: the LMS URL to send the browser to, and the flow's `state` (for
    /// the browser's cookie; the PKCE verifier stays here).
    pub fn start(&self) -> (String, String) {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = self
            .client
            .authorize_url(CsrfToken::new_random)
            .add_scope(Scope::new("user_id".into()))
            .add_scope(Scope::new("profile".into()))
            .add_scope(Scope::new("email".into()))
            .set_pkce_challenge(challenge)
            .url();
        if let Ok(mut flows) = self.flows.lock() {
            flows.retain(|_, (_, t)| t.elapsed() < FLOW_TTL);
            if flows.len() >= MAX_FLOWS
                && let Some(oldest) = flows
                    .iter()
                    .min_by_key(|(_, (_, t))| *t)
                    .map(|(k, _)| k.clone())
            {
                flows.remove(&oldest);
            }
            flows.insert(state.secret().clone(), (verifier, Instant::now()));
        }
        (url.to_string(), state.secret().clone())
    }

    /// Takes the flow of `state` (once): its PKCE verifier, if the flow is live.
    fn take(&self, state: &str) -> Result<PkceCodeVerifier, SsoError> {
        let mut flows = self.flows.lock().map_err(|_| SsoError::State)?;
        match flows.remove(state) {
            Some((v, t)) if t.elapsed() < FLOW_TTL => Ok(v),
            _ => Err(SsoError::State),
        }
    }

    /// Finishes a sign-in at the callback: `state` must be the flow's (and the browser's),
    /// then the code is exchanged (with the PKCE verifier) and the user read from the LMS.
    /// `error` is the LMS's `error` parameter, if it sent one.
    pub async fn finish(
        &self,
        state: &str,
        code: Option<&str>,
        error: Option<&str>,
    ) -> Result<LmsIdentity, SsoError> {
        let verifier = self.take(state)?;
        if let Some(e) = error {
            // An OAuth2 error code is `[a-z_]`: nothing else reaches the log.
            let code = e
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(64)
                .collect();
            return Err(SsoError::Refused(code));
        }
        let code = code.ok_or_else(|| SsoError::Refused("no code".into()))?;
        let token = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(verifier)
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(r) => match r.error() {
                    BasicErrorResponseType::InvalidGrant => SsoError::Code,
                    BasicErrorResponseType::InvalidClient
                    | BasicErrorResponseType::UnauthorizedClient => SsoError::Client,
                    other => SsoError::Refused(other.to_string()),
                },
                RequestTokenError::Request(e) => SsoError::Unreachable(e.to_string()),
                RequestTokenError::Parse(e, _) => {
                    SsoError::Unreachable(format!("unreadable token answer: {e}"))
                }
                RequestTokenError::Other(e) => SsoError::Unreachable(e),
            })?;
        let access_token = token.access_token().secret().clone();
        // Who this is; a token that does not lead to an active user is given back.
        let username = match self.active_username(&access_token).await {
            Ok(u) => u,
            Err(e) => {
                self.revoke(&access_token).await;
                return Err(e);
            }
        };
        Ok(LmsIdentity {
            username,
            access_token,
        })
    }

    /// The username of the token's user (`/api/user/v1/me`), if the account is active.
    async fn active_username(&self, access_token: &str) -> Result<String, SsoError> {
        let me: Me = self
            .get_json(&["api", "user", "v1", "me"], access_token)
            .await?;
        let account: Account = self
            .get_json(
                &["api", "user", "v1", "accounts", &me.username],
                access_token,
            )
            .await?;
        if account.is_active {
            Ok(me.username)
        } else {
            Err(SsoError::Inactive(me.username))
        }
    }

    /// GETs the LMS's JSON at the path of these segments (each percent-encoded).
    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        segments: &[&str],
        token: &str,
    ) -> Result<T, SsoError> {
        let mut url = reqwest::Url::parse(&self.lms_url)
            .map_err(|e| SsoError::Profile(format!("{}: {e}", self.lms_url)))?;
        url.path_segments_mut()
            .map_err(|_| SsoError::Profile(format!("{}: not a base URL", self.lms_url)))?
            .pop_if_empty()
            .extend(segments);
        let path = url.path().to_owned();
        let r = self
            .http
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| SsoError::Profile(format!("{path}: {e}")))?;
        let status = r.status();
        if !status.is_success() {
            return Err(SsoError::Profile(format!("{path}: HTTP {status}")));
        }
        r.json()
            .await
            .map_err(|e| SsoError::Profile(format!("{path}: {e}")))
    }

    /// Revokes an access token at the LMS (RFC 7009, the client authenticated with HTTP
    /// Basic; the `oauth2` crate's own revocation refuses an `http://` LMS, which the
    /// stand-in is). A failure is logged, not fatal: the dashboard session ends anyway.
    pub async fn revoke(&self, access_token: &str) {
        let r = self
            .http
            .post(format!("{}/oauth2/revoke_token", self.lms_url))
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .form(&[("token", access_token), ("token_type_hint", "access_token")])
            .send()
            .await;
        match r {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => tracing::warn!(
                "revoking the LMS token at sign-out failed: HTTP {}",
                r.status()
            ),
            Err(e) => tracing::warn!("revoking the LMS token at sign-out failed: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flows_are_single_use_and_carry_pkce() {
        let sso = Sso::new(
            "https://lms.example.org/",
            "http://127.0.0.1:2247",
            "cairn",
            "not-in-any-url",
        )
        .unwrap();
        let (url, state) = sso.start();
        assert!(
            url.starts_with("https://lms.example.org/oauth2/authorize?"),
            "{url}"
        );
        for part in [
            "response_type=code",
            "client_id=cairn",
            "code_challenge_method=S256",
            "redirect_uri=http%3A%2F%2F127.0.0.1%3A2247%2Flogin%2Flms%2Fcallback",
        ] {
            assert!(url.contains(part), "{part} in {url}");
        }
        assert!(url.contains(&format!("state={state}")));
        // (A random state or challenge could hold a short secret by chance.)
        assert!(
            !url.contains("not-in-any-url"),
            "the secret is never in a URL"
        );
        assert!(sso.take(&state).is_ok());
        assert!(
            matches!(sso.take(&state), Err(SsoError::State)),
            "used once"
        );
        assert!(matches!(sso.take("forged"), Err(SsoError::State)));
    }
}
