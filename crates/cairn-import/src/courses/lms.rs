//! Course structure from a running LMS: OAuth2 client credentials, the course list, and
//! the Course Blocks API (`all_blocks=true`, `depth=all`).
//!
//! Facts: `shared/openedx/lms-api.md`. The token is tied to the OAuth application's owner,
//! who needs staff access to the courses (global staff to read all). 5xx answers and
//! network errors are retried with backoff; a 401 gets one fresh token, then fails with a
//! message about the credentials; a body that is not what the API returns fails naming
//! the URL.

use std::collections::HashMap;
use std::time::Duration;

use cairn_core::Secret;
use serde::Deserialize;

use super::{Block, MAX_BLOCKS, MAX_DEPTH, Node, flatten};

/// Why the LMS could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LmsError {
    /// The LMS refused the credentials or the token.
    #[error(
        "{url}: 401 Unauthorized: check CAIRN_LMS_CLIENT_ID / CAIRN_LMS_CLIENT_SECRET and that the application's user is staff"
    )]
    Unauthorized {
        /// The URL.
        url: String,
    },
    /// Another HTTP error, or the LMS kept failing.
    #[error("{url}: {message}")]
    Http {
        /// The URL.
        url: String,
        /// What happened.
        message: String,
    },
    /// The body is not what the API returns.
    #[error("{url}: unexpected response: {message}")]
    Malformed {
        /// The URL.
        url: String,
        /// What is wrong.
        message: String,
    },
}

/// A client of the LMS APIs.
pub struct LmsClient {
    http: reqwest::Client,
    base: String,
    client_id: String,
    client_secret: Secret,
    token: Option<(String, String)>,
    /// Attempts per request (5xx and network errors).
    pub attempts: u32,
    /// First backoff between attempts (doubles).
    pub backoff: Duration,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    token_type: String,
}

#[derive(Deserialize)]
struct CoursePage {
    results: Vec<CourseItem>,
    #[serde(default)]
    pagination: Option<Pagination>,
    #[serde(default)]
    next: Option<String>,
}

#[derive(Deserialize)]
struct Pagination {
    #[serde(default)]
    next: Option<String>,
}

#[derive(Deserialize)]
struct CourseItem {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    course_id: Option<String>,
}

#[derive(Deserialize, Clone)]
struct ApiBlock {
    id: String,
    #[serde(default)]
    block_id: Option<String>,
    #[serde(rename = "type")]
    block_type: String,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    graded: Option<bool>,
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    children: Vec<String>,
}

#[derive(Deserialize)]
struct BlocksDict {
    root: String,
    blocks: HashMap<String, ApiBlock>,
}

impl LmsClient {
    /// A client for the LMS at `base` (e.g. `https://lms.example.org`).
    pub fn new(base: &str, client_id: &str, client_secret: &Secret) -> Result<Self, LmsError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .user_agent("cairn-import")
            .build()
            .map_err(|e| LmsError::Http {
                url: base.to_owned(),
                message: e.to_string(),
            })?;
        Ok(LmsClient {
            http,
            base: base.trim_end_matches('/').to_owned(),
            client_id: client_id.to_owned(),
            client_secret: client_secret.clone(),
            token: None,
            attempts: 4,
            backoff: Duration::from_millis(500),
        })
    }

    async fn fetch_token(&mut self) -> Result<(String, String), LmsError> {
        let url = format!("{}/oauth2/access_token", self.base);
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose()),
            ("token_type", "jwt"),
        ];
        let body = self
            .send(&url, |http| http.post(&url).form(&form), false)
            .await?;
        let t: TokenResponse = serde_json::from_str(&body).map_err(|e| LmsError::Malformed {
            url: url.clone(),
            message: e.to_string(),
        })?;
        let kind = if t.token_type.eq_ignore_ascii_case("jwt") {
            "JWT"
        } else {
            "Bearer"
        };
        Ok((kind.to_owned(), t.access_token))
    }

    /// Sends a request, retrying 5xx and network errors; returns the body of a 2xx.
    async fn send(
        &self,
        url: &str,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
        authed: bool,
    ) -> Result<String, LmsError> {
        let mut backoff = self.backoff;
        let mut last = String::new();
        for attempt in 0..self.attempts.max(1) {
            if attempt > 0 {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
            let mut req = build(&self.http);
            if authed && let Some((kind, tok)) = &self.token {
                req = req.header("Authorization", format!("{kind} {tok}"));
            }
            match req.send().await {
                Ok(resp) if resp.status() == reqwest::StatusCode::UNAUTHORIZED => {
                    return Err(LmsError::Unauthorized {
                        url: url.to_owned(),
                    });
                }
                Ok(resp) if resp.status().is_server_error() => {
                    last = format!("HTTP {}", resp.status())
                }
                Ok(resp) if !resp.status().is_success() => {
                    return Err(LmsError::Http {
                        url: url.to_owned(),
                        message: format!("HTTP {}", resp.status()),
                    });
                }
                Ok(resp) => {
                    return resp.text().await.map_err(|e| LmsError::Http {
                        url: url.to_owned(),
                        message: e.to_string(),
                    });
                }
                Err(e) => last = e.to_string(),
            }
        }
        Err(LmsError::Http {
            url: url.to_owned(),
            message: format!("{last} (after {} attempts)", self.attempts),
        })
    }

    /// GET with the token (fetched on first use, refreshed once on a 401).
    async fn get(&mut self, url: &str, query: &[(&str, &str)]) -> Result<String, LmsError> {
        if self.token.is_none() {
            self.token = Some(self.fetch_token().await?);
        }
        match self
            .send(url, |http| http.get(url).query(query), true)
            .await
        {
            Err(LmsError::Unauthorized { .. }) => {
                self.token = Some(self.fetch_token().await?);
                self.send(url, |http| http.get(url).query(query), true)
                    .await
            }
            other => other,
        }
    }

    /// Every course the application's user can see as staff, following pagination.
    pub async fn course_ids(&mut self) -> Result<Vec<String>, LmsError> {
        let mut ids = Vec::new();
        let mut url = format!("{}/api/courses/v1/courses/", self.base);
        let mut query: Vec<(&str, &str)> = vec![("page_size", "100"), ("permissions", "staff")];
        for _ in 0..10_000 {
            let body = self.get(&url, &query).await?;
            let page: CoursePage =
                serde_json::from_str(&body).map_err(|e| LmsError::Malformed {
                    url: url.clone(),
                    message: e.to_string(),
                })?;
            ids.extend(
                page.results
                    .into_iter()
                    .filter_map(|c| c.id.or(c.course_id)),
            );
            match page.pagination.and_then(|p| p.next).or(page.next) {
                Some(next) if !next.is_empty() => {
                    url = next;
                    query.clear();
                }
                _ => return Ok(ids),
            }
        }
        Err(LmsError::Malformed {
            url,
            message: "pagination does not end".into(),
        })
    }

    /// A course's blocks from the Course Blocks API, in course order.
    pub async fn blocks(&mut self, course_id: &str) -> Result<Vec<Block>, LmsError> {
        let url = format!("{}/api/courses/v1/blocks/", self.base);
        let query = [
            ("course_id", course_id),
            ("all_blocks", "true"),
            ("depth", "all"),
            ("return_type", "dict"),
            (
                "requested_fields",
                "children,graded,format,display_name,type",
            ),
        ];
        let body = self.get(&url, &query).await?;
        let dict: BlocksDict = serde_json::from_str(&body).map_err(|e| LmsError::Malformed {
            url: url.clone(),
            message: e.to_string(),
        })?;
        let root =
            tree(&dict.blocks, &dict.root, 0, &mut 0).ok_or_else(|| LmsError::Malformed {
                url: url.clone(),
                message: format!(
                    "root {} or one of its children is missing from blocks, or the tree is deeper \
                 than {MAX_DEPTH} levels or has over {MAX_BLOCKS} blocks",
                    dict.root
                ),
            })?;
        Ok(flatten(&root))
    }
}

/// The tree under `id`; `None` when a block is missing, the tree is deeper than
/// [`MAX_DEPTH`] or it has more than [`MAX_BLOCKS`] blocks (`made` counts them).
fn tree(
    blocks: &HashMap<String, ApiBlock>,
    id: &str,
    depth: usize,
    made: &mut usize,
) -> Option<Node> {
    *made += 1;
    if depth >= MAX_DEPTH || *made > MAX_BLOCKS {
        return None;
    }
    let b = blocks.get(id)?;
    let children = b
        .children
        .iter()
        .map(|c| tree(blocks, c, depth + 1, made))
        .collect::<Option<Vec<_>>>()?;
    let block_id = b
        .block_id
        .clone()
        .unwrap_or_else(|| id.rsplit('@').next().unwrap_or(id).to_owned());
    Some(Node {
        block_type: b.block_type.clone(),
        block_id,
        block_key: b.id.clone(),
        display_name: b.display_name.clone().filter(|d| !d.is_empty()),
        graded: b.graded,
        format: b.format.clone(),
        children,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blocks from the Course Blocks API's `blocks` object: (id, type, children).
    fn dict(blocks: &[(&str, &str, &[&str])]) -> HashMap<String, ApiBlock> {
        blocks
            .iter()
            .map(|(id, t, children)| {
                let b = ApiBlock {
                    id: (*id).to_owned(),
                    block_id: None,
                    block_type: (*t).to_owned(),
                    display_name: None,
                    graded: None,
                    format: None,
                    children: children.iter().map(|c| (*c).to_owned()).collect(),
                };
                ((*id).to_owned(), b)
            })
            .collect()
    }

    #[test]
    fn a_tree_reads_and_a_cycle_or_a_fan_out_is_refused_at_once() {
        let ok = dict(&[
            ("c", "course", &["s"]),
            ("s", "chapter", &["q"]),
            ("q", "sequential", &[]),
        ]);
        let root = tree(&ok, "c", 0, &mut 0).unwrap();
        assert_eq!(flatten(&root).len(), 3);
        // A block that is its own grandchild.
        let cycle = dict(&[("c", "course", &["s"]), ("s", "chapter", &["c"])]);
        assert!(tree(&cycle, "c", 0, &mut 0).is_none());
        // 40 levels, each block listing the next twice: 2^40 paths, refused after
        // MAX_BLOCKS blocks (a walk of every path would not end).
        let ids: Vec<String> = (0..=40).map(|i| format!("b{i}")).collect();
        let levels: Vec<(&str, &str, Vec<&str>)> = (0..=40)
            .map(|i| {
                let next = ids.get(i + 1).map(String::as_str);
                (
                    ids[i].as_str(),
                    "vertical",
                    next.map(|n| vec![n, n]).unwrap_or_default(),
                )
            })
            .collect();
        let fan: Vec<(&str, &str, &[&str])> = levels
            .iter()
            .map(|(i, t, c)| (*i, *t, c.as_slice()))
            .collect();
        let mut made = 0;
        assert!(tree(&dict(&fan), "b0", 0, &mut made).is_none());
        assert_eq!(made, MAX_BLOCKS + 1);
        // 40 levels listed once each: a deep but finite tree reads.
        let chain: Vec<(&str, &str, Vec<&str>)> = (0..=40)
            .map(|i| {
                (
                    ids[i].as_str(),
                    "vertical",
                    ids.get(i + 1).map(|n| vec![n.as_str()]).unwrap_or_default(),
                )
            })
            .collect();
        let chain: Vec<(&str, &str, &[&str])> = chain
            .iter()
            .map(|(i, t, c)| (*i, *t, c.as_slice()))
            .collect();
        assert_eq!(
            flatten(&tree(&dict(&chain), "b0", 0, &mut 0).unwrap()).len(),
            41
        );
    }
}
