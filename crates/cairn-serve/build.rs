//! Embeds the front-end packages: `npm ci` of web/package-lock.json (pinned versions and
//! integrity hashes) into OUT_DIR, from which src/assets.rs includes Chart.js's built file
//! and the SQL editor: web/editor.js with CodeMirror 6, bundled by esbuild into one file.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("web");
    println!("cargo:rerun-if-changed=web/package.json");
    println!("cargo:rerun-if-changed=web/package-lock.json");
    println!("cargo:rerun-if-changed=web/editor.js");
    let built = out.join("node_modules/chart.js/dist/chart.umd.min.js");
    let lock =
        std::fs::read(manifest.join("web/package-lock.json")).expect("web/package-lock.json");
    let stamp = out.join("package-lock.json");
    if !(built.is_file() && std::fs::read(&stamp).ok().as_deref() == Some(lock.as_slice())) {
        npm_ci(&manifest, &out, &built, &stamp, &lock);
    }
    bundle_editor(&manifest, &out);
}

/// Bundles web/editor.js and the CodeMirror packages it imports into OUT_DIR/web/editor.js.
fn bundle_editor(manifest: &std::path::Path, out: &std::path::Path) {
    // Beside node_modules, so that its imports resolve to the npm ci packages.
    let source = out.join("editor.src.js");
    std::fs::copy(manifest.join("web/editor.js"), &source).expect("copy web/editor.js");
    let status = Command::new("node")
        .arg(out.join("node_modules/esbuild/bin/esbuild"))
        .arg(&source)
        .args([
            "--bundle",
            "--minify",
            "--format=iife",
            "--log-level=warning",
        ])
        .arg(format!("--outfile={}", out.join("editor.js").display()))
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("cairn-serve: bundling web/editor.js with esbuild failed ({s})"),
        Err(e) => panic!("cairn-serve: cannot run node ({e}); building cairn serve needs Node.js"),
    }
}

fn npm_ci(
    manifest: &std::path::Path,
    out: &std::path::Path,
    built: &std::path::Path,
    stamp: &std::path::Path,
    lock: &[u8],
) {
    std::fs::create_dir_all(out).expect("create OUT_DIR/web");
    std::fs::copy(manifest.join("web/package.json"), out.join("package.json"))
        .expect("copy package.json");
    std::fs::write(stamp, lock).expect("copy package-lock.json");
    let status = Command::new("npm")
        .args([
            "ci",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ])
        .current_dir(out)
        .status();
    match status {
        Ok(s) if s.success() && built.is_file() => {}
        Ok(s) => panic!(
            "cairn-serve: `npm ci` in {} failed ({s}); it fetches Chart.js from the npm registry \
             (web/package-lock.json pins it)",
            out.display()
        ),
        Err(e) => panic!(
            "cairn-serve: cannot run npm ({e}); building cairn serve needs Node.js and npm to \
             fetch Chart.js from the npm registry (web/package-lock.json pins it)"
        ),
    }
}
