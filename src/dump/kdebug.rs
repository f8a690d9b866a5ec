//! The kdebug decoder of `-x` / `-v` (not yet implemented).
