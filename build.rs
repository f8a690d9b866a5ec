//! Build script: the switches of the test suite.
//!
//! The kernel tests boot a test kernel (`tests/harness/kernel`).  Where none
//! can run, they fail rather than pass silently; `RSETKEY_SKIP_KERNEL_TESTS=1`
//! skips them on purpose.  The skip has to be decided when the tests are
//! compiled, because only an `#[ignore]` shows in the summary cargo prints
//! ("N ignored"): the switch becomes the `skip_kernel_tests` cfg.  In the
//! same way `RSETKEY_SKIP_ANSIBLE_TESTS=1` becomes `skip_ansible_tests`: the
//! tests of `deploy/ansible` need Ansible and ansible-lint installed.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    for (var, cfg) in [
        ("RSETKEY_SKIP_KERNEL_TESTS", "skip_kernel_tests"),
        ("RSETKEY_SKIP_ANSIBLE_TESTS", "skip_ansible_tests"),
    ] {
        println!("cargo::rerun-if-env-changed={var}");
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        let skip = std::env::var(var).unwrap_or_default();
        if matches!(skip.as_str(), "1" | "true" | "yes") {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}
