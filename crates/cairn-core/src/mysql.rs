//! MySQL (LMS database) access: `mysql_async` options from the config.

use crate::config::MysqlConfig;
use crate::error::{Error, Result};

pub use mysql_async;

/// Connection options for the LMS database.
pub fn opts(cfg: &MysqlConfig) -> mysql_async::Opts {
    mysql_async::OptsBuilder::default()
        .ip_or_hostname(cfg.host.clone())
        .tcp_port(cfg.port)
        .db_name(Some(cfg.database.clone()))
        .user(Some(cfg.username.clone()))
        .pass((!cfg.password.is_empty()).then(|| cfg.password.expose().to_owned()))
        .prefer_socket(false)
        .into()
}

/// Opens one connection to the LMS database, with the host and database as error context.
pub async fn connect(cfg: &MysqlConfig) -> Result<mysql_async::Conn> {
    mysql_async::Conn::new(opts(cfg)).await.map_err(|e| {
        let hint = match &e {
            mysql_async::Error::Io(mysql_async::IoError::Io(io))
                if matches!(
                    io.kind(),
                    std::io::ErrorKind::ConnectionRefused
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::NotFound
                ) =>
            {
                " (nothing answers there: is the server up, and are MYSQL_HOST and \
                 MYSQL_PORT right?)"
            }
            // 1045: access denied (user or password); 1044: no rights on the database;
            // 1049: no such database.
            mysql_async::Error::Server(s) if s.code == 1045 => {
                " (the server refused the user or password: check \
                 OPENEDX_MYSQL_USERNAME and OPENEDX_MYSQL_PASSWORD)"
            }
            mysql_async::Error::Server(s) if s.code == 1044 || s.code == 1049 => {
                " (check OPENEDX_MYSQL_DATABASE, and that the user may read it)"
            }
            _ => "",
        };
        Error::mysql(
            format!(
                "connecting to {}@{}:{}/{}{hint}",
                cfg.username, cfg.host, cfg.port, cfg.database
            ),
            e,
        )
    })
}

/// The server's version string (`SELECT VERSION()`), which also checks the credentials.
pub async fn server_version(cfg: &MysqlConfig) -> Result<String> {
    use mysql_async::prelude::Queryable;
    let mut conn = connect(cfg).await?;
    let v: Option<String> = conn
        .query_first("SELECT VERSION()")
        .await
        .map_err(|e| Error::mysql("SELECT VERSION()", e))?;
    conn.disconnect().await.ok();
    v.ok_or_else(|| Error::Other("MySQL returned no version".into()))
}
