//! Reading a course's structure from an OLX export (a folder or a `.tar.gz`, as Studio's
//! Export writes it).
//!
//! `course.xml` → `course/<run>.xml` → chapters → sequentials → verticals → components.
//! An element with nothing but `url_name` points to `<tag>/<url_name>.xml`; anything else
//! is defined inline. Only container blocks (course, chapter, sequential, vertical,
//! library_content, split_test, conditional, …) have block children; a component's inner XML is its content.
//! `drafts/` is never read. Names are what the LMS shows (`display_name`, else the type's
//! default name such as "Text" or "Blank Advanced Problem", else the `url_name` with `_`
//! as spaces); `graded` and `format` are set on subsections and
//! inherited by everything below them. (`org`/`course` beside `url_name` still make a
//! pointer, as old exports write them.) A course whose pointers form a cycle, whose blocks
//! nest deeper than [`MAX_DEPTH`] or which holds over [`MAX_BLOCKS`] blocks is refused
//! ([`OlxError::Invalid`], naming the file), never walked without end.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{MAX_BLOCKS, MAX_DEPTH};

/// Caps on what an export may hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest single file.
    pub max_file: u64,
    /// All files together (uncompressed).
    pub max_total: u64,
    /// Number of entries.
    pub max_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file: 64 << 20,
            max_total: 1 << 30,
            max_entries: 200_000,
        }
    }
}

/// Why an export cannot be read; nothing is imported then.
#[derive(Debug, thiserror::Error)]
pub enum OlxError {
    /// I/O.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        message: String,
    },
    /// The archive or folder is unsafe or too big.
    #[error("refused: {0}")]
    Refused(String),
    /// A file that is neither a folder nor a gzip archive.
    #[error("not a course export: give the folder holding course.xml, or Studio's .tar.gz export")]
    NotAnExport,
    /// The XML is not valid or not OLX.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// A read-only view of an export's files, by relative path (`chapter/x.xml`).
pub trait OlxFiles {
    /// The file's text, if it exists.
    fn read(&self, rel: &str) -> Result<Option<String>, OlxError>;
}

/// An exported course folder. Reads stay inside it: `..` and links that lead out are
/// refused.
pub struct Folder {
    root: PathBuf,
    limits: Limits,
}

impl Folder {
    /// A folder holding `course.xml`.
    pub fn new(root: &Path, limits: Limits) -> Result<Self, OlxError> {
        let root = root.canonicalize().map_err(|e| OlxError::Io {
            path: root.display().to_string(),
            message: e.to_string(),
        })?;
        Ok(Folder { root, limits })
    }
}

fn safe_rel(rel: &str) -> Result<&Path, OlxError> {
    let p = Path::new(rel);
    if p.components().all(|c| matches!(c, Component::Normal(_))) {
        Ok(p)
    } else {
        Err(OlxError::Refused(format!("path {rel:?} leaves the export")))
    }
}

impl OlxFiles for Folder {
    fn read(&self, rel: &str) -> Result<Option<String>, OlxError> {
        let path = self.root.join(safe_rel(rel)?);
        let real = match path.canonicalize() {
            Ok(r) => r,
            Err(_) => return Ok(None),
        };
        if !real.starts_with(&self.root) {
            return Err(OlxError::Refused(format!("{rel} links out of the export")));
        }
        let io = |e: std::io::Error| OlxError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let len = std::fs::metadata(&real).map_err(io)?.len();
        if len > self.limits.max_file {
            return Err(OlxError::Refused(format!(
                "{rel} is {len} bytes, over the {} cap",
                self.limits.max_file
            )));
        }
        std::fs::read_to_string(&real).map(Some).map_err(io)
    }
}

/// A `.tar.gz` export, read whole into memory after checking every entry.
pub struct Archive {
    files: HashMap<String, Vec<u8>>,
    prefix: String,
}

impl Archive {
    /// Reads and checks an archive: only regular files and folders, no absolute paths or
    /// `..`, within the caps. The course is the folder holding `course.xml` (the root or
    /// one folder deep, as Studio writes `course/course.xml`).
    pub fn open(path: &Path, limits: Limits) -> Result<Self, OlxError> {
        let label = path.display().to_string();
        let io = |e: std::io::Error| OlxError::Io {
            path: label.clone(),
            message: e.to_string(),
        };
        let mut f = std::io::BufReader::new(std::fs::File::open(path).map_err(io)?);
        // gzip's magic number: anything else is not a Studio export (a course.xml given
        // instead of its folder, a README…), said so rather than as a gzip error.
        if !std::io::BufRead::fill_buf(&mut f)
            .map_err(io)?
            .starts_with(&[0x1f, 0x8b])
        {
            return Err(OlxError::NotAnExport);
        }
        Archive::from_reader(f, &label, limits)
    }

    /// Reads and checks an archive's gzip-compressed bytes from `r`, as [`Archive::open`]
    /// does; `label` names it in errors.
    pub fn from_reader(r: impl Read, label: &str, limits: Limits) -> Result<Self, OlxError> {
        let io = |e: std::io::Error| OlxError::Io {
            path: label.to_owned(),
            message: e.to_string(),
        };
        let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(r));
        let mut files = HashMap::new();
        let mut total = 0u64;
        for (n, entry) in ar.entries().map_err(io)?.enumerate() {
            if n >= limits.max_entries {
                return Err(OlxError::Refused(format!(
                    "more than {} entries",
                    limits.max_entries
                )));
            }
            let mut entry = entry.map_err(io)?;
            let name = entry.path().map_err(io)?.to_string_lossy().into_owned();
            let kind = entry.header().entry_type();
            if kind.is_dir() {
                safe_rel(name.trim_end_matches('/'))?;
                continue;
            }
            if !kind.is_file() {
                return Err(OlxError::Refused(format!(
                    "{name} is a link or special file"
                )));
            }
            let rel = safe_rel(&name)?.to_string_lossy().into_owned();
            let size = entry.header().size().map_err(io)?;
            if size > limits.max_file {
                return Err(OlxError::Refused(format!(
                    "{name} is {size} bytes, over the {} cap",
                    limits.max_file
                )));
            }
            total += size;
            if total > limits.max_total {
                return Err(OlxError::Refused(format!(
                    "the archive holds over {} bytes",
                    limits.max_total
                )));
            }
            let mut data = Vec::with_capacity(size as usize);
            entry
                .by_ref()
                .take(limits.max_file + 1)
                .read_to_end(&mut data)
                .map_err(io)?;
            files.insert(rel, data);
        }
        let prefix = if files.contains_key("course.xml") {
            String::new()
        } else {
            let mut dirs: Vec<&str> = files
                .keys()
                .filter_map(|k| k.strip_suffix("/course.xml"))
                .filter(|d| !d.contains('/'))
                .collect();
            dirs.sort();
            match dirs.as_slice() {
                [one] => format!("{one}/"),
                [] => {
                    return Err(OlxError::Invalid {
                        path: label.to_owned(),
                        message: "no course.xml".into(),
                    });
                }
                _ => {
                    return Err(OlxError::Invalid {
                        path: label.to_owned(),
                        message: "several course.xml".into(),
                    });
                }
            }
        };
        Ok(Archive { files, prefix })
    }
}

impl OlxFiles for Archive {
    fn read(&self, rel: &str) -> Result<Option<String>, OlxError> {
        safe_rel(rel)?;
        match self.files.get(&format!("{}{rel}", self.prefix)) {
            None => Ok(None),
            Some(b) => String::from_utf8(b.clone())
                .map(Some)
                .map_err(|_| OlxError::Invalid {
                    path: rel.to_owned(),
                    message: "not UTF-8".into(),
                }),
        }
    }
}

pub use super::{Block, Node};

/// A course read from OLX.
#[derive(Debug, Clone)]
pub struct OlxCourse {
    /// Course key.
    pub course_id: String,
    /// Course name.
    pub display_name: String,
    /// Its blocks, course first.
    pub blocks: Vec<Block>,
}

/// Blocks whose child elements are blocks. `library_content` children are the library
/// blocks copied into the course (real usage keys, completion and grades).
const CONTAINERS: &[&str] = &[
    "course",
    "chapter",
    "sequential",
    "vertical",
    "library_content",
    "split_test",
    "conditional",
    "unit",
    "wrapper",
    "itembank",
];
const NOT_BLOCKS: &[&str] = &["wiki"];

struct Walker<'a> {
    files: &'a dyn OlxFiles,
    course_prefix: String,
    /// The pointer files being followed, outermost first (a file met again is a cycle).
    followed: Vec<String>,
    /// Blocks made so far.
    blocks: usize,
}

fn invalid(path: &str, e: impl std::fmt::Display) -> OlxError {
    OlxError::Invalid {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

/// An owned element: tag, attributes and, for a container, its child elements (what the
/// walk needs).
struct El {
    tag: String,
    attrs: HashMap<String, String>,
    /// A container's child elements (a component's inner XML is its content: not kept).
    children: Vec<El>,
    /// It has child elements (then it is no pointer).
    has_children: bool,
}

/// Owns an element; `depth` containers above it in this file.
fn own(node: roxmltree::Node<'_, '_>, depth: usize) -> Result<El, String> {
    let tag = node.tag_name().name().to_owned();
    let container = CONTAINERS.contains(&tag.as_str());
    let mut children = Vec::new();
    let mut has_children = false;
    for c in node.children().filter(|c| c.is_element()) {
        has_children = true;
        if !container {
            break;
        }
        if depth + 1 >= MAX_DEPTH {
            return Err(format!("blocks nest deeper than {MAX_DEPTH} levels"));
        }
        children.push(own(c, depth + 1)?);
    }
    Ok(El {
        tag,
        attrs: node
            .attributes()
            .map(|a| (a.name().to_owned(), a.value().to_owned()))
            .collect(),
        children,
        has_children,
    })
}

fn parse_file(files: &dyn OlxFiles, rel: &str) -> Result<Option<El>, OlxError> {
    let Some(text) = files.read(rel)? else {
        return Ok(None);
    };
    let doc = roxmltree::Document::parse(&text).map_err(|e| invalid(rel, e))?;
    own(doc.root_element(), 0)
        .map(Some)
        .map_err(|e| invalid(rel, e))
}

impl Walker<'_> {
    /// Resolves a pointer (`<tag url_name="x"/>`) to its definition, and the file it came
    /// from (`None`: not a pointer).
    fn resolve(&self, el: El) -> Result<(El, Option<String>), OlxError> {
        let is_pointer = !el.has_children
            && el.attrs.contains_key("url_name")
            && el
                .attrs
                .keys()
                .all(|k| matches!(k.as_str(), "url_name" | "org" | "course"));
        if !is_pointer {
            return Ok((el, None));
        }
        let url = &el.attrs["url_name"];
        let rel = format!("{}/{}.xml", el.tag, url);
        if let Some(at) = self.followed.iter().position(|f| *f == rel) {
            let cycle = self.followed[at..].join(" → ");
            return Err(invalid(
                &rel,
                format!("pointers form a cycle: {cycle} → {rel}"),
            ));
        }
        match parse_file(self.files, &rel)? {
            Some(mut def) => {
                def.attrs.insert("url_name".into(), url.clone());
                if def.tag != el.tag {
                    return Err(invalid(
                        &rel,
                        format!("expected <{}>, found <{}>", el.tag, def.tag),
                    ));
                }
                Ok((def, Some(rel)))
            }
            None => Err(invalid(&rel, "missing file for a pointer tag")),
        }
    }

    /// The block `el` defines (its pointer followed) with its children; `depth` blocks
    /// above it.
    fn node(
        &mut self,
        el: El,
        parent_id: &str,
        index: usize,
        depth: usize,
    ) -> Result<Node, OlxError> {
        let (el, file) = self.resolve(el)?;
        // The file that defines it: its own, else the one it is inline in.
        let at = || {
            file.as_deref()
                .or(self.followed.last().map(String::as_str))
                .unwrap_or("course.xml")
                .to_owned()
        };
        if depth >= MAX_DEPTH {
            return Err(invalid(
                &at(),
                format!("blocks nest deeper than {MAX_DEPTH} levels"),
            ));
        }
        self.blocks += 1;
        if self.blocks > MAX_BLOCKS {
            return Err(invalid(
                &at(),
                format!("the course has over {MAX_BLOCKS} blocks"),
            ));
        }
        let block_type = el.tag.clone();
        let block_id = match el.attrs.get("url_name") {
            Some(u) if !u.is_empty() => u.clone(),
            _ => {
                // Inline block with no url_name: a stable id from its place in the course.
                let d = Sha256::digest(format!("{parent_id}/{block_type}/{index}").as_bytes());
                d[..16].iter().map(|b| format!("{b:02x}")).collect()
            }
        };
        let block_key = if block_type == "course" {
            format!("block-v1:{}+type@course+block@course", self.course_prefix)
        } else {
            format!(
                "block-v1:{}+type@{block_type}+block@{block_id}",
                self.course_prefix
            )
        };
        let mut children = Vec::new();
        if CONTAINERS.contains(&block_type.as_str()) {
            self.followed.extend(file.clone());
            for (i, child) in el.children.into_iter().enumerate() {
                if !NOT_BLOCKS.contains(&child.tag.as_str()) {
                    children.push(self.node(child, &block_id, i, depth + 1)?);
                }
            }
            if file.is_some() {
                self.followed.pop();
            }
        }
        Ok(Node {
            display_name: el
                .attrs
                .get("display_name")
                .filter(|d| !d.is_empty())
                .cloned(),
            graded: el.attrs.get("graded").map(|g| g == "true"),
            format: el.attrs.get("format").cloned(),
            block_type,
            block_id,
            block_key,
            children,
        })
    }
}

/// Reads a course's blocks from an export.
pub fn read_course(files: &dyn OlxFiles) -> Result<OlxCourse, OlxError> {
    let root = parse_file(files, "course.xml")?
        .ok_or_else(|| invalid("course.xml", "missing (give the folder holding course.xml)"))?;
    if root.tag != "course" {
        return Err(invalid(
            "course.xml",
            format!("expected <course>, found <{}>", root.tag),
        ));
    }
    let get = |k: &str| {
        root.attrs
            .get(k)
            .cloned()
            .ok_or_else(|| invalid("course.xml", format!("no {k} attribute")))
    };
    let (org, number, run) = (get("org")?, get("course")?, get("url_name")?);
    let course_id = format!("course-v1:{org}+{number}+{run}");
    cairn_core::CourseKey::parse(&course_id).map_err(|e| invalid("course.xml", e))?;
    let mut w = Walker {
        files,
        course_prefix: format!("{org}+{number}+{run}"),
        followed: Vec::new(),
        blocks: 0,
    };
    let course_el = El {
        tag: "course".into(),
        attrs: [("url_name".to_owned(), run.clone())].into(),
        children: vec![],
        has_children: false,
    };
    let blocks = super::flatten(&w.node(course_el, "", 0, 0)?);
    let display_name = blocks
        .first()
        .map(|b| b.display_name.clone())
        .unwrap_or_default();
    Ok(OlxCourse {
        course_id,
        display_name,
        blocks,
    })
}

/// Opens an export: a folder, or a `.tar.gz` file.
pub fn open(path: &Path, limits: Limits) -> Result<Box<dyn OlxFiles>, OlxError> {
    if path.is_dir() {
        Ok(Box::new(Folder::new(path, limits)?))
    } else {
        Ok(Box::new(Archive::open(path, limits)?))
    }
}
