//! Course structure from OLX: the Open edX demo course, tarballs, hostile archives, and the
//! write to the real ClickHouse.

use std::collections::BTreeMap;
use std::path::Path;

use cairn_core::testing;
use cairn_import::courses::olx::{Limits, open, read_course};
use cairn_import::courses::{OlxError, write_course};

fn counts(blocks: &[cairn_import::courses::Block]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for b in blocks {
        *m.entry(b.block_type.clone()).or_default() += 1;
    }
    m
}

/// The counts of shared/corpus/olx/README.md (wiki is not a courseware block).
fn readme_counts() -> BTreeMap<String, usize> {
    [
        ("course", 1),
        ("chapter", 6),
        ("sequential", 17),
        ("vertical", 58),
        ("html", 266),
        ("problem", 29),
        ("video", 11),
        ("lti", 2),
        ("openassessment", 2),
        ("annotatable", 1),
        ("library_content", 1),
        ("drag-and-drop-v2", 1),
        ("discussion", 1),
        ("done", 1),
        ("edx_sga", 1),
        ("poll", 1),
        ("staffgradedxblock", 1),
        ("survey", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

fn demo(shared: &Path) -> std::path::PathBuf {
    shared.join("corpus/olx/demo-course")
}

#[test]
fn demo_course_blocks_match_the_corpus() {
    let Some(shared) = testing::shared_dir() else {
        return;
    };
    let course = read_course(open(&demo(&shared), Limits::default()).unwrap().as_ref()).unwrap();
    assert_eq!(course.course_id, "course-v1:OpenedX+DemoX+DemoCourse");
    assert_eq!(course.display_name, "Open edX Demo Course");
    assert_eq!(counts(&course.blocks), readme_counts());
    assert_eq!(course.blocks.len(), 401);
    let graded: Vec<(&str, &str)> = course
        .blocks
        .iter()
        .filter(|b| b.block_type == "sequential" && b.graded)
        .map(|b| (b.display_name.as_str(), b.format.as_str()))
        .collect();
    let formats: Vec<&str> = graded.iter().map(|(_, f)| *f).collect();
    assert_eq!(
        formats,
        [
            "Basic Assessment Tools",
            "Intermediate Assessment Tools",
            "Advanced Assessment Tools"
        ]
    );
    // Everything under a graded subsection is graded; nothing else is.
    for b in &course.blocks {
        let in_graded = graded.iter().any(|(n, _)| b.subsection == *n);
        assert_eq!(
            b.graded,
            in_graded && b.block_type != "chapter",
            "{}",
            b.full_name
        );
    }
    // Positions follow course order; every block's parent comes before it.
    for (i, b) in course.blocks.iter().enumerate() {
        assert_eq!(b.position as usize, i + 1);
        if i > 0 {
            assert!(
                course.blocks[..i].iter().any(|p| p.block_key == b.parent),
                "{}",
                b.block_key
            );
        }
    }
    let lines: Vec<String> = course
        .blocks
        .iter()
        .map(|b| {
            format!(
                "{:>3} {:<18} {} {}{}",
                b.position,
                b.block_type,
                if b.graded { "G" } else { "-" },
                b.full_name,
                if b.format.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", b.format)
                }
            )
        })
        .collect();
    insta::assert_snapshot!("demo_course_outline", lines.join("\n"));
}

fn tarball(src: &Path, out: &Path, prefix: &str) {
    let f = std::fs::File::create(out).unwrap();
    let enc = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
    let mut b = tar::Builder::new(enc);
    b.append_dir_all(prefix, src).unwrap();
    b.into_inner().unwrap().finish().unwrap();
}

fn tmp(name: &str) -> testing::Scratch {
    testing::Scratch::new(&format!("courses-{name}"))
}

#[test]
fn a_studio_tarball_reads_the_same() {
    let Some(shared) = testing::shared_dir() else {
        return;
    };
    let dir = tmp("tarball");
    let tgz = dir.join("course.tar.gz");
    tarball(&demo(&shared), &tgz, "course");
    let from_tar = read_course(open(&tgz, Limits::default()).unwrap().as_ref()).unwrap();
    let from_dir = read_course(open(&demo(&shared), Limits::default()).unwrap().as_ref()).unwrap();
    assert_eq!(from_tar.blocks, from_dir.blocks);
}

fn hostile(
    name: &str,
    build: impl FnOnce(&mut tar::Builder<flate2::write::GzEncoder<std::fs::File>>),
) -> (testing::Scratch, std::path::PathBuf) {
    let dir = tmp(name);
    let p = dir.join("evil.tar.gz");
    let enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&p).unwrap(),
        flate2::Compression::fast(),
    );
    let mut b = tar::Builder::new(enc);
    let mut h = tar::Header::new_gnu();
    h.set_size(5);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, "course/course.xml", &b"<x/>\n"[..])
        .unwrap();
    build(&mut b);
    b.into_inner().unwrap().finish().unwrap();
    (dir, p)
}

fn refused(p: &Path, limits: Limits) -> String {
    match open(p, limits) {
        Err(e @ OlxError::Refused(_)) => e.to_string(),
        Err(e) => panic!("expected a refusal, got {e}"),
        Ok(_) => panic!("expected a refusal"),
    }
}

#[test]
fn hostile_archives_are_refused() {
    // A `../` entry (written raw: the tar crate refuses to build one).
    let (_dir, p) = hostile("dotdot", |b| {
        let mut h = tar::Header::new_gnu();
        h.as_gnu_mut().unwrap().name[..13].copy_from_slice(b"../evil.xml\0\0");
        h.set_size(5);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, &b"evil\n"[..]).unwrap();
    });
    assert!(refused(&p, Limits::default()).contains("leaves the export"));
    // A symlink out of the archive.
    let (_dir, p) = hostile("symlink", |b| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_mode(0o777);
        b.append_link(&mut h, "course/chapter/x.xml", "/etc/passwd")
            .unwrap();
    });
    assert!(refused(&p, Limits::default()).contains("link"));
    // Over the size caps.
    let (_dir, p) = hostile("big", |b| {
        let mut h = tar::Header::new_gnu();
        h.set_size(4096);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "course/static/big.bin", &vec![0u8; 4096][..])
            .unwrap();
    });
    assert!(
        refused(
            &p,
            Limits {
                max_file: 1024,
                ..Limits::default()
            }
        )
        .contains("cap")
    );
    assert!(
        refused(
            &p,
            Limits {
                max_total: 2048,
                ..Limits::default()
            }
        )
        .contains("over")
    );
    assert!(
        refused(
            &p,
            Limits {
                max_entries: 1,
                ..Limits::default()
            }
        )
        .contains("entries")
    );
}

#[test]
fn a_folder_link_out_of_the_export_is_refused() {
    let dir = tmp("folderlink");
    std::fs::write(
        dir.join("course.xml"),
        r#"<course url_name="R" org="O" course="C"/>"#,
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("course")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", dir.join("course/R.xml")).unwrap();
    match read_course(open(&dir, Limits::default()).unwrap().as_ref()) {
        Err(OlxError::Refused(m)) => assert!(m.contains("links out"), "{m}"),
        other => panic!("{:?}", other.map(|c| c.course_id)),
    }
}

/// A folder export of course `O/C/R` whose `course/R.xml` is `run` plus `files`
/// (relative path, text).
fn export(name: &str, run: &str, files: &[(String, String)]) -> testing::Scratch {
    let dir = tmp(name);
    std::fs::write(
        dir.join("course.xml"),
        r#"<course url_name="R" org="O" course="C"/>"#,
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("course")).unwrap();
    std::fs::write(dir.join("course/R.xml"), run).unwrap();
    for (rel, text) in files {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

/// The message of the `Invalid` error reading `dir` gives, naming `path`.
fn invalid(dir: &Path, path: &str) -> String {
    match read_course(open(dir, Limits::default()).unwrap().as_ref()) {
        Err(OlxError::Invalid { path: p, message }) => {
            assert_eq!(p, path, "{message}");
            message
        }
        other => panic!("{:?}", other.map(|c| c.blocks.len())),
    }
}

#[test]
fn pointers_in_a_cycle_are_refused_not_followed() {
    let f = |rel: &str, text: &str| (rel.to_owned(), text.to_owned());
    // A subsection whose unit holds the subsection again (found by cargo fuzz: the walk
    // followed it until the stack overflowed).
    let dir = export(
        "cycle",
        r#"<course><chapter url_name="a"/></course>"#,
        &[
            f(
                "chapter/a.xml",
                r#"<chapter><sequential url_name="s"/></chapter>"#,
            ),
            f(
                "sequential/s.xml",
                r#"<sequential><vertical url_name="v"/></sequential>"#,
            ),
            f(
                "vertical/v.xml",
                r#"<vertical><sequential url_name="s"/></vertical>"#,
            ),
        ],
    );
    let m = invalid(&dir, "sequential/s.xml");
    assert!(
        m.contains("cycle: sequential/s.xml → vertical/v.xml → sequential/s.xml"),
        "{m}"
    );
    // The same file used twice side by side is no cycle.
    let dir = export(
        "twice",
        r#"<course><chapter url_name="a"/><chapter url_name="b"/></course>"#,
        &[
            f(
                "chapter/a.xml",
                r#"<chapter><sequential url_name="s"/></chapter>"#,
            ),
            f(
                "chapter/b.xml",
                r#"<chapter><sequential url_name="s"/></chapter>"#,
            ),
            f("sequential/s.xml", r#"<sequential display_name="S"/>"#),
        ],
    );
    let course = read_course(open(&dir, Limits::default()).unwrap().as_ref()).unwrap();
    assert_eq!(counts(&course.blocks)["sequential"], 2);
}

#[test]
fn blocks_nested_too_deep_or_too_many_are_refused_and_content_is_not_walked() {
    let f = |rel: String, text: String| (rel, text);
    // 20,000 inline units, one inside the other (the fuzzer's stack overflow).
    let deep = format!(
        "<course>{}{}</course>",
        "<vertical>".repeat(20_000),
        "</vertical>".repeat(20_000)
    );
    let m = invalid(&export("deep", &deep, &[]), "course/R.xml");
    assert!(m.contains("deeper than 64 levels"), "{m}");
    // Through pointers: the course and 64 units, one inside the other, are a level too
    // many; the course and 63 are not.
    let files: Vec<_> = (0..64)
        .map(|i| {
            let inner = if i < 63 {
                format!(r#"<vertical url_name="v{}"/>"#, i + 1)
            } else {
                String::new()
            };
            f(
                format!("vertical/v{i}.xml"),
                format!("<vertical>{inner}</vertical>"),
            )
        })
        .collect();
    let run = r#"<course><vertical url_name="v0"/></course>"#;
    let m = invalid(&export("deep65", run, &files), "vertical/v63.xml");
    assert!(m.contains("deeper than 64 levels"), "{m}");
    // Inline blocks in the deepest file: the error names the file they are in.
    let mut inline = files[..61].to_vec();
    inline.push(f(
        "vertical/v61.xml".into(),
        "<vertical><vertical><vertical/></vertical></vertical>".into(),
    ));
    let m = invalid(&export("deepinline", run, &inline), "vertical/v61.xml");
    assert!(m.contains("deeper than 64 levels"), "{m}");
    let mut ok = files[..62].to_vec();
    ok.push(f("vertical/v62.xml".into(), "<vertical/>".into()));
    let course = read_course(
        open(&export("deep64", run, &ok), Limits::default())
            .unwrap()
            .as_ref(),
    )
    .unwrap();
    assert_eq!(course.blocks.len(), 64);
    // 24 levels of units, each holding the next twice: 2^24 blocks, refused after 200,000.
    let fan: Vec<_> = (0..24)
        .map(|i| {
            let next = format!(r#"<vertical url_name="w{}"/>"#, i + 1);
            f(
                format!("vertical/w{i}.xml"),
                format!("<vertical>{next}{next}</vertical>"),
            )
        })
        .chain([f("vertical/w24.xml".into(), "<vertical/>".into())])
        .collect();
    let dir = export("fan", r#"<course><vertical url_name="w0"/></course>"#, &fan);
    match read_course(open(&dir, Limits::default()).unwrap().as_ref()) {
        Err(OlxError::Invalid { message, .. }) => {
            assert!(message.contains("over 200000 blocks"), "{message}")
        }
        other => panic!("{:?}", other.map(|c| c.blocks.len())),
    }
    // A problem's own XML 20,000 elements deep is its content: not walked, read as before.
    let problem = format!(
        "<problem display_name=\"P\">{}{}</problem>",
        "<div>".repeat(20_000),
        "</div>".repeat(20_000)
    );
    let dir = export(
        "content",
        r#"<course><vertical url_name="u"/></course>"#,
        &[
            f(
                "vertical/u.xml".into(),
                r#"<vertical><problem url_name="p"/></vertical>"#.into(),
            ),
            f("problem/p.xml".into(), problem),
        ],
    );
    let course = read_course(open(&dir, Limits::default()).unwrap().as_ref()).unwrap();
    assert_eq!(course.blocks.len(), 3);
    assert_eq!(course.blocks[2].display_name, "P");
}

#[tokio::test(flavor = "multi_thread")]
async fn import_then_reimport_replaces_and_never_duplicates() {
    let Some(shared) = testing::shared_dir() else {
        return;
    };
    let ch = cairn_migrate::testing::data_lake("courses_write").await;
    let course = read_course(open(&demo(&shared), Limits::default()).unwrap().as_ref()).unwrap();
    let v1 = write_course(&ch, &course.course_id, &course.blocks, "olx")
        .await
        .unwrap();
    let count = || async {
        ch.client()
            .query("SELECT count() FROM course_blocks")
            .fetch_one::<u64>()
            .await
            .unwrap()
    };
    assert_eq!(count().await, 401);
    // A re-import with a renamed block replaces the whole course at once.
    let mut renamed = course.blocks.clone();
    renamed[1].display_name = "Renamed section".into();
    let v2 = write_course(&ch, &course.course_id, &renamed, "olx")
        .await
        .unwrap();
    assert!(v2 > v1);
    assert_eq!(count().await, 401);
    let name: String = ch
        .client()
        .query("SELECT display_name FROM course_blocks WHERE position = 2")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(name, "Renamed section");
    let graded: u64 = ch.client().query("SELECT count() FROM course_blocks WHERE block_type = 'sequential' AND graded = 1 AND format != ''").fetch_one().await.unwrap();
    assert_eq!(graded, 3);
    ch.drop_database().await.unwrap();
}

#[test]
fn what_is_not_an_export_is_named_with_what_to_give() {
    let dir = std::env::temp_dir().join(format!("cairn-olx-not-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("empty")).unwrap();
    let text = dir.join("course.xml");
    std::fs::write(&text, r#"<course url_name="R" org="O" course="C"/>"#).unwrap();
    // A file that is not gzip (here a course.xml given instead of its folder).
    assert!(matches!(
        open(&text, Limits::default()),
        Err(OlxError::NotAnExport)
    ));
    let run = |path: &Path| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_cairn-import"))
            .args(["courses", "--olx"])
            .arg(path)
            .output()
            .unwrap();
        assert!(!o.status.success());
        String::from_utf8(o.stderr).unwrap()
    };
    let err = run(&text);
    assert_eq!(
        err.trim_end(),
        format!(
            "cairn import courses: {}: not a course export: give the folder holding \
             course.xml, or Studio's .tar.gz export",
            text.display()
        )
    );
    // A folder without course.xml: the export and the file it lacks, once each.
    let empty = dir.join("empty");
    let err = run(&empty);
    assert_eq!(
        err.trim_end(),
        format!(
            "cairn import courses: {}: course.xml: missing (give the folder holding course.xml)",
            empty.display()
        )
    );
    // A path that does not exist: named once.
    let err = run(&dir.join("nothing-here"));
    assert_eq!(err.matches("nothing-here").count(), 1, "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
