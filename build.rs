//! Build script: one switch for the test suite.
//!
//! The kernel tests boot a test kernel (`tests/harness/kernel`).  Where none
//! can run, they fail rather than pass silently; `RSETKEY_SKIP_KERNEL_TESTS=1`
//! skips them on purpose.  The skip has to be decided when the tests are
//! compiled, because only an `#[ignore]` shows in the summary cargo prints
//! ("N ignored"): the switch becomes the `skip_kernel_tests` cfg.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=RSETKEY_SKIP_KERNEL_TESTS");
    println!("cargo::rustc-check-cfg=cfg(skip_kernel_tests)");
    let skip = std::env::var("RSETKEY_SKIP_KERNEL_TESTS").unwrap_or_default();
    if matches!(skip.as_str(), "1" | "true" | "yes") {
        println!("cargo::rustc-cfg=skip_kernel_tests");
    }
}
