//! Rows of `_events` held as ClickHouse receives them: RowBinary, in LZ4 frames of
//! ClickHouse's own compression format (what an HTTP `INSERT … ?decompress=1` reads).
//!
//! A batch of 100,000 events takes about 14 MB this way, against about 250 MB as owned
//! rows, so inserts can be large (few parts, little merging) while the collector stays
//! within its memory bound. The rows stay available for a retry: [`Encoded::retain`] drops
//! those a failed attempt did store.
//!
//! The `clickhouse` crate keeps its RowBinary serializer private; it sends these bytes as
//! they are (`insert_formatted_with`), and the round trip through the server is tested.

use std::sync::Arc;

use bytes::Bytes;
use cairn_core::ClickHouse;
use cairn_core::sql::quote_ident;

use super::store::Located;

/// The columns of `_events` the ingester writes, in the order [`Encoder::push`] writes
/// them (the rest take their defaults: `event_id`, `inserted_at`).
pub const COLUMNS: &[&str] = &[
    "time",
    "time_us",
    "name",
    "event_type",
    "event_source",
    "family",
    "course_id",
    "org",
    "user_id",
    "username",
    "session",
    "ip",
    "agent",
    "host",
    "referer",
    "accept_language",
    "page",
    "path",
    "block_id",
    "block_type",
    "video_id",
    "position",
    "old_position",
    "video_duration",
    "video_speed",
    "attempts",
    "grade",
    "max_grade",
    "success",
    "weighted_earned",
    "weighted_possible",
    "percent_grade",
    "letter_grade",
    "completion",
    "enrollment_mode",
    "target",
    "item_id",
    "message",
    "answer_input",
    "answer_values",
    "answer_text",
    "answer_correct",
    "answer_type",
    "source",
    "source_offset",
];

/// Uncompressed bytes per frame (ClickHouse's own clients use 1 MiB blocks).
const FRAME_BYTES: usize = 1 << 20;
/// ClickHouse's compression frame: 16-byte checksum, method, compressed and raw sizes.
const CHECKSUM: usize = 16;
const HEADER: usize = 9;
const LZ4: u8 = 0x82;

/// One compressed frame: rows of one source.
#[derive(Debug, Clone)]
struct Frame {
    source: Arc<str>,
    /// Each row's source offset.
    offsets: Vec<u64>,
    /// Where each row ends in the raw (uncompressed) frame.
    ends: Vec<u32>,
    data: Bytes,
}

/// Encoded rows ready to insert, in order.
#[derive(Debug, Clone, Default)]
pub struct Encoded {
    frames: Vec<Frame>,
    rows: usize,
    bytes: usize,
}

/// The rows of one source among [`Encoded`] rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRows {
    /// The source.
    pub source: Arc<str>,
    /// The lowest offset of its rows.
    pub lo: u64,
    /// The highest offset of its rows.
    pub hi: u64,
    /// How many rows.
    pub rows: usize,
}

/// Why held rows could not be read back (a bug, not bad input: the frames are ours).
#[derive(Debug, thiserror::Error)]
#[error("held rows are damaged: {0}")]
pub struct Damaged(String);

impl Encoded {
    /// Rows held.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Compressed bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether no row is held.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Per source, in order of first row: its rows' lowest and highest offset, and how
    /// many rows it has.
    pub fn sources(&self) -> Vec<SourceRows> {
        let mut out: Vec<SourceRows> = Vec::new();
        for f in &self.frames {
            let lo = f.offsets.iter().copied().min().unwrap_or(0);
            let hi = f.offsets.iter().copied().max().unwrap_or(0);
            match out.iter_mut().find(|s| s.source == f.source) {
                Some(s) => {
                    s.lo = s.lo.min(lo);
                    s.hi = s.hi.max(hi);
                    s.rows += f.offsets.len();
                }
                None => out.push(SourceRows {
                    source: f.source.clone(),
                    lo,
                    hi,
                    rows: f.offsets.len(),
                }),
            }
        }
        out
    }

    /// Appends `other`'s rows after these.
    pub fn append(&mut self, other: Encoded) {
        self.rows += other.rows;
        self.bytes += other.bytes;
        self.frames.extend(other.frames);
    }

    /// Keeps the rows for which `keep(source, offset)` holds; returns how many were dropped.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, u64) -> bool) -> Result<usize, Damaged> {
        let mut out = Encoder::default();
        let before = self.rows;
        for f in std::mem::take(&mut self.frames) {
            let flags: Vec<bool> = f.offsets.iter().map(|&o| keep(&f.source, o)).collect();
            if flags.iter().all(|k| *k) {
                out.finish_frame();
                out.held.rows += f.offsets.len();
                out.held.bytes += f.data.len();
                out.held.frames.push(f);
                continue;
            }
            let raw = decompress(&f.data)?;
            let mut start = 0usize;
            for (i, &end) in f.ends.iter().enumerate() {
                let end = end as usize;
                if flags[i] {
                    let row = raw
                        .get(start..end)
                        .ok_or_else(|| Damaged("a row lies outside its frame".into()))?;
                    out.push_raw(&f.source, f.offsets[i], row);
                }
                start = end;
            }
        }
        *self = out.finish();
        Ok(before - self.rows)
    }
}

/// Rows of one source encoded as they are read (RowBinary, not yet compressed): the row
/// is written while it is still in the CPU's cache, and [`Encoder::push_rows`] compresses
/// them together.
#[derive(Default)]
pub struct RawRows {
    raw: Vec<u8>,
    offsets: Vec<u64>,
    ends: Vec<u32>,
}

impl RawRows {
    /// Appends a row read from `source`.
    pub fn push(&mut self, source: &str, r: &Located) {
        encode_row(&mut self.raw, r, source);
        self.offsets.push(r.offset);
        // Far below 4 GiB: a chunk is sent past 2 MiB, and a line is at most a few MiB.
        self.ends
            .push(u32::try_from(self.raw.len()).unwrap_or(u32::MAX));
    }

    /// Whether no row is held.
    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// Gives up the buffer's memory (rows are held no more), for another to reuse.
    pub fn release(&mut self) -> Vec<u8> {
        self.offsets = Vec::new();
        self.ends = Vec::new();
        let mut raw = std::mem::take(&mut self.raw);
        raw.clear();
        raw
    }

    /// Whether a buffer is held (the rows' memory, once allocated).
    pub fn has_buffer(&self) -> bool {
        self.raw.capacity() > 0
    }

    /// Uses `buf` (emptied) as the buffer, in place of the one held.
    pub fn reuse(&mut self, mut buf: Vec<u8>) {
        buf.clear();
        buf.extend_from_slice(&self.raw);
        self.raw = buf;
    }
}

/// Builds [`Encoded`] rows.
#[derive(Default)]
pub struct Encoder {
    held: Encoded,
    source: Option<Arc<str>>,
    raw: Vec<u8>,
    offsets: Vec<u64>,
    ends: Vec<u32>,
    scratch: Vec<u8>,
}

impl Encoder {
    /// Appends a row read from `source`.
    pub fn push(&mut self, source: &Arc<str>, r: &Located) {
        self.start_row(source);
        encode_row(&mut self.raw, r, source);
        self.end_row(r.offset);
    }

    /// Appends `rows`, read from `source`, as one frame; `rows` is left empty (keeping its
    /// buffer).
    pub fn push_rows(&mut self, source: &Arc<str>, rows: &mut RawRows) {
        if rows.is_empty() {
            return;
        }
        self.finish_frame();
        self.source = Some(source.clone());
        std::mem::swap(&mut self.raw, &mut rows.raw);
        std::mem::swap(&mut self.offsets, &mut rows.offsets);
        std::mem::swap(&mut self.ends, &mut rows.ends);
        self.finish_frame();
        std::mem::swap(&mut self.raw, &mut rows.raw);
        rows.offsets.clear();
        rows.ends.clear();
    }

    fn push_raw(&mut self, source: &Arc<str>, offset: u64, row: &[u8]) {
        self.start_row(source);
        self.raw.extend_from_slice(row);
        self.end_row(offset);
    }

    fn start_row(&mut self, source: &Arc<str>) {
        if self.source.as_ref().is_some_and(|s| s != source) || self.raw.len() >= FRAME_BYTES {
            self.finish_frame();
        }
        if self.source.is_none() {
            self.source = Some(source.clone());
        }
    }

    fn end_row(&mut self, offset: u64) {
        self.offsets.push(offset);
        // A frame stays far below 4 GiB: it is closed past 1 MiB, and a line is at most
        // a few MiB (the parser's limit).
        self.ends
            .push(u32::try_from(self.raw.len()).unwrap_or(u32::MAX));
    }

    fn finish_frame(&mut self) {
        let Some(source) = self.source.take() else {
            return;
        };
        if self.offsets.is_empty() {
            return;
        }
        let data = compress(&self.raw, &mut self.scratch);
        self.held.rows += self.offsets.len();
        self.held.bytes += data.len();
        self.held.frames.push(Frame {
            source,
            offsets: std::mem::take(&mut self.offsets),
            ends: std::mem::take(&mut self.ends),
            data,
        });
        self.raw.clear();
    }

    /// The rows pushed, ready to insert.
    pub fn finish(mut self) -> Encoded {
        self.take()
    }

    /// The rows pushed so far, ready to insert; the encoder starts again empty (keeping its
    /// buffers).
    pub fn take(&mut self) -> Encoded {
        self.finish_frame();
        std::mem::take(&mut self.held)
    }
}

/// One frame, compressed in `scratch` and copied out at its size (a frame keeps no spare
/// capacity: held frames are the collector's memory).
fn compress(raw: &[u8], scratch: &mut Vec<u8>) -> Bytes {
    let max = lz4_flex::block::get_maximum_output_size(raw.len());
    // Zeroed once to its largest size, not for every frame (~1 MiB each).
    if scratch.len() < CHECKSUM + HEADER + max {
        scratch.resize(CHECKSUM + HEADER + max, 0);
    }
    // The output buffer has the size lz4_flex asks for, so compressing cannot fail.
    let n = lz4_flex::block::compress_into(raw, &mut scratch[CHECKSUM + HEADER..]).unwrap_or(0);
    let buf = &mut scratch[..CHECKSUM + HEADER + n];
    buf[CHECKSUM] = LZ4;
    let framed = u32::try_from(HEADER + n).unwrap_or(u32::MAX);
    buf[CHECKSUM + 1..CHECKSUM + 5].copy_from_slice(&framed.to_le_bytes());
    let len = u32::try_from(raw.len()).unwrap_or(u32::MAX);
    buf[CHECKSUM + 5..CHECKSUM + 9].copy_from_slice(&len.to_le_bytes());
    let sum = cityhash_rs::cityhash_102_128(&buf[CHECKSUM..]).rotate_right(64);
    buf[..CHECKSUM].copy_from_slice(&sum.to_le_bytes());
    Bytes::copy_from_slice(buf)
}

fn decompress(frame: &[u8]) -> Result<Vec<u8>, Damaged> {
    let header = frame
        .get(CHECKSUM..CHECKSUM + HEADER)
        .ok_or_else(|| Damaged("frame shorter than its header".into()))?;
    let mut len = [0u8; 4];
    len.copy_from_slice(&header[5..9]);
    lz4_flex::block::decompress(
        &frame[CHECKSUM + HEADER..],
        u32::from_le_bytes(len) as usize,
    )
    .map_err(|e| Damaged(e.to_string()))
}

fn leb128(buf: &mut Vec<u8>, mut n: u64) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            buf.push(byte);
            return;
        }
        buf.push(byte | 0x80);
    }
}

fn string(buf: &mut Vec<u8>, s: &str) {
    leb128(buf, s.len() as u64);
    buf.extend_from_slice(s.as_bytes());
}

fn nullable(buf: &mut Vec<u8>, v: Option<f64>) {
    match v {
        Some(v) => {
            buf.push(0);
            buf.extend_from_slice(&v.to_le_bytes());
        }
        None => buf.push(1),
    }
}

fn strings<'a>(buf: &mut Vec<u8>, n: usize, items: impl Iterator<Item = &'a str>) {
    leb128(buf, n as u64);
    for s in items {
        string(buf, s);
    }
}

/// One row in RowBinary, the columns of [`COLUMNS`] in order.
fn encode_row(buf: &mut Vec<u8>, r: &Located, source: &str) {
    let e = &r.row;
    buf.extend_from_slice(&u32::try_from(e.time.timestamp()).unwrap_or(0).to_le_bytes());
    buf.extend_from_slice(&e.time.timestamp_subsec_micros().to_le_bytes());
    for s in [
        &e.name,
        &e.event_type,
        &e.event_source,
        e.family.as_str(),
        &e.course_id,
        &e.org,
    ] {
        string(buf, s);
    }
    buf.extend_from_slice(&e.user_id.unwrap_or(0).to_le_bytes());
    for s in [
        &e.username,
        &e.session,
        &e.ip,
        &e.agent,
        &e.host,
        &e.referer,
        &e.accept_language,
        &e.page,
        &e.path,
        &e.block_id,
        &e.block_type,
        &e.video_id,
    ] {
        string(buf, s);
    }
    for v in [
        e.position,
        e.old_position,
        e.video_duration,
        e.video_speed,
        e.attempts,
        e.grade,
        e.max_grade,
    ] {
        nullable(buf, v);
    }
    string(buf, &e.success);
    for v in [e.weighted_earned, e.weighted_possible, e.percent_grade] {
        nullable(buf, v);
    }
    string(buf, &e.letter_grade);
    nullable(buf, e.completion);
    for s in [&e.enrollment_mode, &e.target, &e.item_id, &e.message] {
        string(buf, s);
    }
    let a = &e.answers;
    strings(buf, a.len(), a.iter().map(|a| a.input.as_str()));
    leb128(buf, a.len() as u64);
    for x in a {
        strings(buf, x.values.len(), x.values.iter().map(String::as_str));
    }
    leb128(buf, a.len() as u64);
    for x in a {
        strings(buf, x.text.len(), x.text.iter().map(String::as_str));
    }
    leb128(buf, a.len() as u64);
    buf.extend(a.iter().map(|x| x.correct as u8));
    strings(buf, a.len(), a.iter().map(|a| a.input_type.as_str()));
    string(buf, source);
    buf.extend_from_slice(&r.offset.to_le_bytes());
}

/// Inserts the rows into `_events` in one INSERT, streaming the frames as they are held.
pub async fn insert(ch: &ClickHouse, rows: &Encoded) -> cairn_core::Result<()> {
    let sql = format!(
        "INSERT INTO {}._events ({}) FORMAT RowBinary",
        quote_ident(ch.database()),
        COLUMNS.join(", ")
    );
    let err = |e| cairn_core::Error::clickhouse("insert into events", e);
    let mut client = ch
        .client()
        .clone()
        .with_compression(clickhouse::Compression::None)
        .with_setting("decompress", "1");
    if ch.version().at_least(21, 1) {
        // Servers since 20.11 collapse equal sorting keys of a ReplacingMergeTree while
        // writing an insert: about 40% of a large insert's CPU on 26.9. Merges and the
        // exact `events` view collapse duplicates anyway (18.16 never did it on insert).
        client = client.with_setting("optimize_on_insert", "0");
    }
    let mut insert = client.insert_formatted_with(sql);
    for f in &rows.frames {
        insert.send(f.data.clone()).await.map_err(err)?;
    }
    insert.end().await.map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn located(i: u64) -> Located {
        let line = format!(
            r#"{{"name":"problem_check","event_type":"problem_check","event_source":"server","time":"2024-03-0{}T10:00:00.123456+00:00","username":"u{i}","context":{{"course_id":"course-v1:X+Y+Z","user_id":{i}}},"event":{{"attempts":{i},"grade":1,"max_grade":2}}}}"#,
            1 + i % 9
        );
        let ev = cairn_events::parse_event(&line, None).unwrap();
        Located {
            row: cairn_events::EventRow::from_event(&ev),
            offset: i * 100,
        }
    }

    #[test]
    fn frames_round_trip_through_lz4() {
        let raw: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        assert_eq!(decompress(&compress(&raw, &mut Vec::new())).unwrap(), raw);
        assert!(decompress(&[1, 2, 3]).is_err());
        // One scratch for a large frame then a small one: each frame is its own size and
        // carries its checksum (what the server verifies).
        let mut scratch = Vec::new();
        let big = compress(&raw, &mut scratch);
        let small = b"the last rows".repeat(3);
        let little = compress(&small, &mut scratch);
        assert!(little.len() < 100, "{}", little.len());
        for (frame, want) in [(&big, &raw), (&little, &small)] {
            assert_eq!(&decompress(frame).unwrap(), want);
            let sum = cityhash_rs::cityhash_102_128(&frame[CHECKSUM..]).rotate_right(64);
            assert_eq!(frame[..CHECKSUM], sum.to_le_bytes());
        }
    }

    #[test]
    fn rows_encoded_as_read_make_the_frames_rows_pushed_one_by_one_make() {
        let a: Arc<str> = "a".into();
        let b: Arc<str> = "b".into();
        let mut one_by_one = Encoder::default();
        let mut chunked = Encoder::default();
        let mut rows = RawRows::default();
        assert!(!rows.has_buffer());
        // Chunks of 700 rows of a, then 5 of b (a frame per chunk either way: the one by
        // one encoder is taken at the same points).
        let mut taken = (Encoded::default(), Encoded::default());
        for (source, range) in [(&a, 0..700), (&a, 700..1400), (&b, 0..5)] {
            for i in range {
                one_by_one.push(source, &located(i));
                rows.push(source, &located(i));
            }
            assert_eq!(rows.offsets.len(), rows.ends.len());
            assert!(!rows.is_empty() && !rows.raw.is_empty());
            chunked.push_rows(source, &mut rows);
            assert!(
                rows.is_empty() && rows.has_buffer(),
                "empty, its buffer kept"
            );
            taken.0.append(one_by_one.take());
            taken.1.append(chunked.take());
        }
        let (want, got) = taken;
        assert_eq!(got.rows(), 1405);
        assert_eq!(got.frames.len(), want.frames.len());
        for (g, w) in got.frames.iter().zip(&want.frames) {
            assert_eq!(
                (&g.source, &g.offsets, &g.ends),
                (&w.source, &w.offsets, &w.ends)
            );
            assert_eq!(decompress(&g.data).unwrap(), decompress(&w.data).unwrap());
        }
        // A released buffer is reused by another source's rows, emptied.
        rows.push(&a, &located(1));
        let buf = rows.release();
        assert!(buf.is_empty() && buf.capacity() > 0 && !rows.has_buffer() && rows.is_empty());
        let mut other = RawRows::default();
        other.push(&b, &located(2));
        let before = other.raw.clone();
        other.reuse(buf);
        assert_eq!(other.raw, before, "its own rows kept");
        assert_eq!(other.offsets, [200]);
    }

    #[test]
    fn retain_drops_exactly_the_rows_named_across_frames_and_sources() {
        let a: Arc<str> = "a".into();
        let b: Arc<str> = "b".into();
        let mut enc = Encoder::default();
        // Enough rows for several frames of source a, then one of b.
        for i in 0..4000 {
            enc.push(&a, &located(i));
        }
        for i in 0..10 {
            enc.push(&b, &located(i));
        }
        let mut held = enc.finish();
        assert_eq!(held.rows(), 4010);
        assert!(held.frames.len() > 2, "{} frames", held.frames.len());
        let per_source = |source: &Arc<str>, lo, hi, rows| SourceRows {
            source: source.clone(),
            lo,
            hi,
            rows,
        };
        assert_eq!(
            held.sources(),
            vec![per_source(&a, 0, 399_900, 4000), per_source(&b, 0, 900, 10)]
        );
        let dropped = held
            .retain(|s, o| !(s == "a" && o % 300 == 0 || s == "b" && o == 500))
            .unwrap();
        assert_eq!(dropped, 1334 + 1);
        assert_eq!(held.rows(), 4010 - 1335);
        assert_eq!(held.sources()[1], per_source(&b, 0, 900, 9));
        // What is left re-encodes byte for byte as the kept rows would.
        let mut again = Encoder::default();
        for i in (0..4000).filter(|i| (i * 100) % 300 != 0) {
            again.push(&a, &located(i));
        }
        for i in (0..10).filter(|&i| i != 5) {
            again.push(&b, &located(i));
        }
        let again = again.finish();
        let raw = |e: &Encoded| -> Vec<u8> {
            e.frames
                .iter()
                .flat_map(|f| decompress(&f.data).unwrap())
                .collect()
        };
        assert_eq!(raw(&held), raw(&again));
        let offsets =
            |e: &Encoded| -> Vec<u64> { e.frames.iter().flat_map(|f| f.offsets.clone()).collect() };
        assert_eq!(offsets(&held), offsets(&again));
    }
}
