//! A course export as an archive: the input is a tar stream (gzip-compressed here, so that
//! the fuzzer works on the tar format, not on gzip's checksums) → checked entries → blocks:
//! nothing may panic, and nothing over the caps is read.
#![no_main]

use std::io::Write;

use cairn_import::courses::olx::{Archive, Limits, read_course};
use flate2::{Compression, write::GzEncoder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    gz.write_all(data).expect("writing to memory cannot fail");
    let bytes = gz.finish().expect("writing to memory cannot fail");
    // Small caps, so that the fuzzer reaches them.
    let limits = Limits {
        max_file: 16 << 10,
        max_total: 64 << 10,
        max_entries: 64,
    };
    if let Ok(archive) = Archive::from_reader(bytes.as_slice(), "fuzz.tar.gz", limits) {
        let _ = read_course(&archive);
    }
});
