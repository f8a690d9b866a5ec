//! The command line, setkey's way.
