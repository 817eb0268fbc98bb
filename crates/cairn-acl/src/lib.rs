//! Access rights: LMS roles → rights (a pure value) → ClickHouse statements → reconciled
//! state.
//!
//! ```
//! use std::collections::BTreeMap;
//! use cairn_acl::rights::{compute, LmsUser, RoleRow};
//! let users = [LmsUser { id: 7, username: "teach".into(), email: "t@x.org".into(), is_staff: false, is_superuser: false, is_active: true }];
//! let roles = [RoleRow { user_id: 7, org: "edX".into(), course_id: String::new(), role: "staff".into() }];
//! let rights = compute(&users, &roles, &BTreeMap::new());
//! assert!(rights["teach"].allows("course-v1:edX+DemoX+Demo_Course"));
//! assert!(!rights["teach"].allows("course-v1:edXtra+DemoX+Demo_Course"));
//! ```

#![warn(missing_docs)]

pub mod cli;
pub mod explorer;
pub mod logins;
pub mod render;
pub mod rights;
pub mod sync;
pub mod users_xml;
