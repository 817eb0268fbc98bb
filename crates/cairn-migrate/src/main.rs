//! The `cairn-migrate` binary.

fn main() {
    eprintln!("cairn-migrate: not implemented yet");
    std::process::exit(2);
}
