//! ClickHouse server versions, compared as numbers.

use std::fmt;
use std::str::FromStr;

/// A server version such as `18.16.1` or `26.9.1.14`; ordered numerically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct ServerVersion {
    /// Major (year for current ClickHouse).
    pub major: u32,
    /// Minor.
    pub minor: u32,
    /// Patch.
    pub patch: u32,
    /// Build (fourth number; 0 if absent).
    pub build: u32,
}

impl ServerVersion {
    /// Builds a version from its first two numbers.
    pub const fn new(major: u32, minor: u32) -> Self {
        ServerVersion {
            major,
            minor,
            patch: 0,
            build: 0,
        }
    }

    /// Whether this version is at least `major.minor`.
    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        *self >= ServerVersion::new(major, minor)
    }
}

impl fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if self.build != 0 {
            write!(f, ".{}", self.build)?;
        }
        Ok(())
    }
}

/// Why a version string did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a ClickHouse version: {0:?}")]
pub struct VersionError(pub String);

impl FromStr for ServerVersion {
    type Err = VersionError;
    /// Parses `MAJOR.MINOR[.PATCH[.BUILD]]`, ignoring a suffix after the numbers
    /// (e.g. `24.8.1.1-lts`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || VersionError(s.to_owned());
        let numeric = s
            .trim()
            .split(|c: char| !(c.is_ascii_digit() || c == '.'))
            .next()
            .unwrap_or("");
        let mut nums = numeric
            .split('.')
            .filter(|p| !p.is_empty())
            .map(str::parse::<u32>);
        let major = nums.next().ok_or_else(err)?.map_err(|_| err())?;
        let minor = nums.next().ok_or_else(err)?.map_err(|_| err())?;
        let patch = nums.next().transpose().map_err(|_| err())?.unwrap_or(0);
        let build = nums.next().transpose().map_err(|_| err())?.unwrap_or(0);
        Ok(ServerVersion {
            major,
            minor,
            patch,
            build,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_orders_numerically() {
        let old: ServerVersion = "18.16.1".parse().unwrap();
        let new: ServerVersion = "26.9.1.14".parse().unwrap();
        let nine: ServerVersion = "9.1".parse().unwrap();
        assert!(old < new);
        assert!(nine < old, "9.1 < 18.16 numerically, unlike strings");
        assert_eq!(new.to_string(), "26.9.1.14");
        assert!(old.at_least(18, 16) && !old.at_least(20, 1));
        assert_eq!("24.8.1.1-lts".parse::<ServerVersion>().unwrap().minor, 8);
        assert!("".parse::<ServerVersion>().is_err());
        assert!("abc".parse::<ServerVersion>().is_err());
        assert!("18".parse::<ServerVersion>().is_err());
    }
}
