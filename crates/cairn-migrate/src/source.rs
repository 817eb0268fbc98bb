//! Where migrations come from: the built-in ones (embedded in the binary) and the folders
//! of `CAIRN_MIGRATIONS_FOLDER`, merged in name order.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use include_dir::{Dir, include_dir};
use sha2::{Digest, Sha256};

use crate::MigrateError;

static BUILTIN: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/migrations");

/// Where a migration file lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Shipped with Cairn.
    Builtin,
    /// An operator's folder.
    Folder(PathBuf),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Builtin => f.write_str("builtin"),
            Origin::Folder(p) => write!(f, "{}", p.display()),
        }
    }
}

/// One migration file: a minijinja template of SQL statements.
#[derive(Debug, Clone)]
pub struct Migration {
    /// File name, e.g. `0001_events.sql`; migrations apply in this order.
    pub name: String,
    /// Where it comes from.
    pub origin: Origin,
    /// The template source.
    pub template: String,
    /// SHA-256 of the template source (so a changed password is not a change).
    pub checksum: String,
}

impl Migration {
    /// A migration from its name, origin and template text.
    pub fn new(name: impl Into<String>, origin: Origin, template: impl Into<String>) -> Self {
        let template = template.into();
        let checksum = format!("{:x}", Sha256::digest(template.as_bytes()));
        Migration {
            name: name.into(),
            origin,
            template,
            checksum,
        }
    }

    /// A path-like label for messages: `builtin/0001_events.sql` or the file's path.
    pub fn label(&self) -> String {
        match &self.origin {
            Origin::Builtin => format!("builtin/{}", self.name),
            Origin::Folder(p) => p.join(&self.name).display().to_string(),
        }
    }
}

/// The migrations shipped with Cairn.
pub fn builtin() -> Vec<Migration> {
    let mut v: Vec<Migration> = BUILTIN
        .files()
        .filter(|f| f.path().extension().is_some_and(|e| e == "sql"))
        .filter_map(|f| {
            let name = f.path().file_name()?.to_str()?.to_owned();
            Some(Migration::new(name, Origin::Builtin, f.contents_utf8()?))
        })
        .collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

/// The `*.sql` files of one folder.
pub fn folder(dir: &Path) -> Result<Vec<Migration>, MigrateError> {
    let entries = std::fs::read_dir(dir).map_err(|e| MigrateError::Folder {
        path: dir.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut v = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| MigrateError::Folder {
            path: dir.to_path_buf(),
            message: e.to_string(),
        })?;
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "sql") || !path.is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).map_err(|e| MigrateError::Folder {
            path: path.clone(),
            message: e.to_string(),
        })?;
        v.push(Migration::new(
            name,
            Origin::Folder(dir.to_path_buf()),
            text,
        ));
    }
    Ok(v)
}

/// Built-in migrations plus those of `folders`, in name order. Two files with the same
/// name are an error naming both.
pub fn load(folders: &[PathBuf]) -> Result<Vec<Migration>, MigrateError> {
    let mut all = builtin();
    for dir in folders {
        all.extend(folder(dir)?);
    }
    let mut by_name: BTreeMap<String, Migration> = BTreeMap::new();
    for m in all {
        if let Some(prev) = by_name.get(&m.name) {
            return Err(MigrateError::Duplicate {
                name: m.name.clone(),
                first: prev.label(),
                second: m.label(),
            });
        }
        by_name.insert(m.name.clone(), m);
    }
    Ok(by_name.into_values().collect())
}

/// Creates the next numbered migration file `NNNN_<name>.sql` in `dir` (numbering after
/// the highest number among the built-in and existing files), and returns its path.
pub fn create_next(dir: &Path, name: &str) -> Result<PathBuf, MigrateError> {
    let slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if slug.trim_matches('_').is_empty() {
        return Err(MigrateError::Other(format!(
            "invalid migration name {name:?}"
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| MigrateError::Folder {
        path: dir.to_path_buf(),
        message: e.to_string(),
    })?;
    let existing = folder(dir)?;
    let number = |m: &Migration| -> u32 {
        m.name
            .split('_')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let next = builtin()
        .iter()
        .chain(existing.iter())
        .map(number)
        .max()
        .unwrap_or(0)
        + 1;
    let path = dir.join(format!("{next:04}_{slug}.sql"));
    std::fs::write(
        &path,
        "-- Migration template (minijinja). Variables: db, clickhouse.version.major/minor,\n-- clickhouse.database, mysql.*, lms_host, and the setting names. Filters: sqlstr, ident.\n",
    )
    .map_err(|e| MigrateError::Folder {
        path: path.clone(),
        message: e.to_string(),
    })?;
    Ok(path)
}
