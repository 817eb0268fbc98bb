//! Connecting to the first ClickHouse node that answers (`CAIRN_CLICKHOUSE_FAILOVER`).
//!
//! [`FailoverConnector`] is the HTTP client's connector: a new connection goes to the node
//! that answered last, and when that node refuses it or does not answer within
//! [`CONNECT_TIMEOUT`], to the next one of the list, in order. A request that fails on a
//! connection that was open (the node died under it) fails as before; whoever retries it
//! (the ingester does, after reading what was stored) gets a new connection, so a fresh
//! node. The pool keys connections by the configured host, so they are reused whichever
//! node they reach.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use tower_service::Service;

/// How long one node has to accept a connection before the next is tried.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A connector over several `host:port` addresses, tried in turn from the last that
/// answered.
#[derive(Clone)]
pub struct FailoverConnector {
    inner: HttpConnector,
    nodes: Arc<[String]>,
    current: Arc<AtomicUsize>,
}

impl FailoverConnector {
    /// A connector for `nodes` (`host:port`; the first is tried first).
    pub fn new(nodes: Vec<String>) -> FailoverConnector {
        let mut inner = HttpConnector::new();
        inner.set_keepalive(Some(Duration::from_secs(60)));
        inner.set_connect_timeout(Some(CONNECT_TIMEOUT));
        inner.set_nodelay(true);
        FailoverConnector {
            inner,
            nodes: nodes.into(),
            current: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The node new connections go to now.
    pub fn current(&self) -> &str {
        &self.nodes[self.current.load(Ordering::Relaxed) % self.nodes.len()]
    }
}

impl Service<Uri> for FailoverConnector {
    type Response = <HttpConnector as Service<Uri>>::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let mut inner = self.inner.clone();
        let nodes = self.nodes.clone();
        let current = self.current.clone();
        Box::pin(async move {
            let start = current.load(Ordering::Relaxed) % nodes.len();
            let mut failures = Vec::new();
            for i in 0..nodes.len() {
                let k = (start + i) % nodes.len();
                let uri = Uri::builder()
                    .scheme(dst.scheme_str().unwrap_or("http"))
                    .authority(nodes[k].as_str())
                    .path_and_query("/")
                    .build()?;
                match inner.call(uri).await {
                    Ok(conn) => {
                        if k != start {
                            current.store(k, Ordering::Relaxed);
                            tracing::warn!(
                                "ClickHouse node {} does not answer ({}); connected to {}",
                                nodes[start],
                                failures.join("; "),
                                nodes[k]
                            );
                        }
                        return Ok(conn);
                    }
                    Err(e) => failures.push(format!("{}: {e}", nodes[k])),
                }
            }
            Err(format!("no ClickHouse node answers ({})", failures.join("; ")).into())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An address where nothing listens: a port just released.
    fn closed_port() -> String {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        drop(l);
        addr
    }

    #[tokio::test]
    async fn connects_to_the_next_node_and_stays_there() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let live = listener.local_addr().unwrap().to_string();
        let dead = closed_port();
        let mut c = FailoverConnector::new(vec![dead.clone(), live.clone()]);
        assert_eq!(c.current(), dead);
        let uri: Uri = format!("http://{dead}/").parse().unwrap();
        c.call(uri.clone()).await.unwrap();
        assert_eq!(c.current(), live);
        // The next connection starts from the node that answered.
        c.call(uri).await.unwrap();
        assert_eq!(c.current(), live);
    }

    #[tokio::test]
    async fn names_every_node_when_none_answers() {
        let (a, b) = (closed_port(), closed_port());
        let mut c = FailoverConnector::new(vec![a.clone(), b.clone()]);
        let e = c
            .call(format!("http://{a}/").parse().unwrap())
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.starts_with("no ClickHouse node answers") && e.contains(&a) && e.contains(&b),
            "{e}"
        );
    }
}
