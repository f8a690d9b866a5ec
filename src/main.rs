//! The `rsetkey` binary: see the library's `cli` module.

fn main() {
    std::process::exit(rsetkey::cli::main(std::env::args_os().collect()));
}
