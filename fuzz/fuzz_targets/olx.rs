//! A course export's files (the input split at NUL bytes: `course.xml`, then pairs of a
//! path and its text) → the course's blocks: nothing may panic, however the XML is.
#![no_main]

use std::collections::HashMap;

use cairn_import::courses::OlxError;
use cairn_import::courses::olx::{OlxFiles, read_course};
use libfuzzer_sys::fuzz_target;

struct Files(HashMap<String, String>);

impl OlxFiles for Files {
    fn read(&self, rel: &str) -> Result<Option<String>, OlxError> {
        Ok(self.0.get(rel).cloned())
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let mut files = HashMap::new();
    files.insert(
        "course.xml".to_string(),
        parts.next().unwrap_or_default().to_string(),
    );
    while let (Some(path), Some(body)) = (parts.next(), parts.next()) {
        files.insert(path.to_string(), body.to_string());
    }
    let _ = read_course(&Files(files));
});
