//! setkey's dump formats, byte for byte.
