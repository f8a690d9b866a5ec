//! Unit tests of the XFRM backend.
