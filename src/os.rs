//! The few C library services whose exact text setkey users see.
//!
//! setkey prints the C library's `strerror` texts ("No such process",
//! "Unknown error 234"); Rust's `io::Error` adds " (os error N)" and nix's
//! table is its own, so the text comes from the C library itself.

use std::ffi::CStr;

/// The C library's message for `errno`, exactly as `strerror(3)` gives it.
pub fn strerror(errno: i32) -> String {
    let mut buf = [0 as libc::c_char; 256];
    // SAFETY: the buffer is valid for its whole length; the XSI variant
    // (which the libc crate binds on Linux) writes a NUL-terminated string
    // into it or fails without touching memory outside it.
    let rc = unsafe { libc::strerror_r(errno, buf.as_mut_ptr(), buf.len()) };
    if rc != 0 {
        return format!("Unknown error {errno}");
    }
    // SAFETY: strerror_r succeeded, so `buf` holds a NUL-terminated string.
    let text = unsafe { CStr::from_ptr(buf.as_ptr()) };
    text.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glibc_texts() {
        assert_eq!(strerror(libc::EEXIST), "File exists");
        assert_eq!(strerror(libc::ESRCH), "No such process");
        assert_eq!(strerror(234), "Unknown error 234");
    }
}
