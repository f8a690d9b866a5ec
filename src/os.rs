//! The C library texts setkey users see.
//!
//! setkey prints `strerror` texts ("No such process", "Unknown error 234").
//! Rust's `io::Error` takes its text from the C library too, but appends
//! " (os error N)", which is cut off here.

/// The C library's message for `errno`, as `strerror(3)` gives it.
pub fn strerror(errno: i32) -> String {
    let text = std::io::Error::from_raw_os_error(errno).to_string();
    let suffix = format!(" (os error {errno})");
    match text.strip_suffix(&suffix) {
        Some(t) => t.to_string(),
        None => text,
    }
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
