//! The `rsetkey` binary: see the library's `cli` module.

#![warn(clippy::disallowed_macros)]

fn main() {
    std::process::exit(rsetkey::cli::main(std::env::args_os().collect()));
}
