//! The `cairn-import` binary.

fn main() {
    eprintln!("cairn-import: not implemented yet");
    std::process::exit(2);
}
