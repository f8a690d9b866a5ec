//! `setkey -D -l`: the one-line-per-SA loop format (not yet implemented).
