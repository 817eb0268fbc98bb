//! The LMS's retirement state, read from its MySQL database (`user_api_userretirement*`).

use cairn_core::config::MysqlConfig;
use mysql_async::prelude::Queryable;

/// One learner who asked to be retired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The LMS user id.
    pub user_id: u64,
    /// The retirement's current state (`None` once the pipeline's cleanup removed the
    /// status: the retirement is complete).
    pub state: Option<String>,
    /// The original username, while the pipeline runs.
    pub original_username: Option<String>,
    /// The original e-mail, while the pipeline runs.
    pub original_email: Option<String>,
    /// The original full name, while the pipeline runs.
    pub original_name: Option<String>,
}

/// States in which the LMS has not (or no longer) decided to retire the learner: a request
/// may still be cancelled while `PENDING`, and an `ABORTED` one is not carried out.
pub const WAITING_STATES: &[&str] = &["PENDING", "ABORTED"];

impl Request {
    /// Whether Cairn retires the learner now.
    pub fn ready(&self) -> bool {
        !self
            .state
            .as_deref()
            .is_some_and(|s| WAITING_STATES.contains(&s))
    }
}

const REQUESTS_SQL: &str = "SELECT r.user_id, st.state_name, s.original_username, s.original_email, \
     s.original_name \
     FROM user_api_userretirementrequest r \
     LEFT JOIN user_api_userretirementstatus s ON s.user_id = r.user_id \
     LEFT JOIN user_api_retirementstate st ON st.id = s.current_state_id \
     ORDER BY r.user_id";

/// Every retirement request, with its state.
pub async fn requests(cfg: &MysqlConfig) -> cairn_core::Result<Vec<Request>> {
    let mut conn = cairn_core::mysql::connect(cfg).await?;
    let rows = conn
        .query_map(
            REQUESTS_SQL,
            |(user_id, state, original_username, original_email, original_name): (
                u64,
                Option<String>,
                Option<String>,
                Option<String>,
                Option<String>,
            )| Request {
                user_id,
                state,
                original_username: original_username.filter(|s| !s.is_empty()),
                original_email: original_email.filter(|s| !s.is_empty()),
                original_name: original_name.filter(|s| !s.is_empty()),
            },
        )
        .await
        .map_err(|e| cairn_core::Error::mysql("reading the LMS's retirement requests", e))?;
    conn.disconnect().await.ok();
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_and_aborted_wait_others_go() {
        let r = |state: Option<&str>| Request {
            user_id: 1,
            state: state.map(str::to_owned),
            original_username: None,
            original_email: None,
            original_name: None,
        };
        assert!(!r(Some("PENDING")).ready());
        assert!(!r(Some("ABORTED")).ready());
        assert!(r(Some("RETIRING_FORUMS")).ready());
        assert!(r(Some("COMPLETE")).ready());
        assert!(r(Some("ERRORED")).ready());
        assert!(r(None).ready());
    }
}
