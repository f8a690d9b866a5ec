//! The kernel's algorithm table as PF_KEY sees it (`net/xfrm/xfrm_algo.c`):
//! PF_KEY ids ↔ crypto API names, with the `sadb_alg` values af_key reports
//! and the ICV truncation it configures — the rows of
//! [`crate::algorithms::TABLE`] the kernel has.
//!
//! Rows come in the kernel's table order, which is the order of the
//! SADB_REGISTER reply. Rows the kernel marks as not PF_KEY-capable (e.g.
//! `cmac(aes)`, the AEAD ciphers) are not in the table: af_key neither
//! accepts nor reports them, so an SA using one dumps with algorithm id 0.

use crate::algorithms::{self as table, Kind};

/// One PF_KEY-capable algorithm of the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Algorithm {
    /// The canonical crypto API name the kernel stores.
    pub name: &'static str,
    /// The PF_KEY id (`sadb_alg_id`).
    pub id: u8,
    /// `sadb_alg_ivlen`.
    pub ivlen: u8,
    /// `sadb_alg_minbits`.
    pub min_bits: u16,
    /// `sadb_alg_maxbits`.
    pub max_bits: u16,
    /// Authentication only: the ICV length af_key configures
    /// (`icv_truncbits`), e.g. 96 for `hmac(sha256)`.
    pub icv_trunc_bits: u32,
}

fn view(row: &'static table::Algorithm) -> Option<Algorithm> {
    row.xfrm.map(|x| Algorithm {
        name: x.name,
        id: row.id,
        ivlen: x.ivlen,
        min_bits: x.min_bits,
        max_bits: x.max_bits,
        icv_trunc_bits: x.icv_trunc_bits,
    })
}

fn of_kind(kind: Kind) -> impl Iterator<Item = Algorithm> {
    table::of_kind(kind).iter().filter_map(view)
}

/// Authentication algorithms, in the kernel's order.
pub fn auth() -> impl Iterator<Item = Algorithm> {
    of_kind(Kind::Authentication)
}

/// Encryption algorithms, in the kernel's order.
pub fn encrypt() -> impl Iterator<Item = Algorithm> {
    of_kind(Kind::Encryption)
}

/// Compression algorithms (IPComp), in the kernel's order.
pub fn compress() -> impl Iterator<Item = Algorithm> {
    of_kind(Kind::Compression)
}

/// The authentication algorithm with this PF_KEY id.
pub fn auth_by_id(id: u8) -> Option<Algorithm> {
    table::by_id(Kind::Authentication, id).and_then(view)
}

/// The encryption algorithm with this PF_KEY id.
pub fn encrypt_by_id(id: u8) -> Option<Algorithm> {
    table::by_id(Kind::Encryption, id).and_then(view)
}

/// The compression algorithm with this PF_KEY id.
pub fn compress_by_id(id: u8) -> Option<Algorithm> {
    table::by_id(Kind::Compression, id).and_then(view)
}

/// PF_KEY id of a stored authentication algorithm name (0 if none).
pub fn auth_id(name: &str) -> u8 {
    table::by_xfrm_name(Kind::Authentication, name).map_or(0, |a| a.id)
}

/// PF_KEY id of a stored encryption algorithm name (0 if none).
pub fn encrypt_id(name: &str) -> u8 {
    table::by_xfrm_name(Kind::Encryption, name).map_or(0, |a| a.id)
}

/// PF_KEY id of a stored compression algorithm name (0 if none).
pub fn compress_id(name: &str) -> u8 {
    table::by_xfrm_name(Kind::Compression, name).map_or(0, |a| a.id)
}

/// An AEAD cipher of the kernel (`XFRMA_ALG_AEAD`): rsetkey's rows for
/// them, which PF_KEY cannot name (see [`crate::algorithms::Aead`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aead {
    /// The crypto API name.
    pub name: &'static str,
    /// The ICV length in bits.
    pub icv_bits: u32,
}

/// The AEAD cipher of rsetkey's id for it.
pub fn aead_by_id(id: u8) -> Option<Aead> {
    table::by_id(Kind::Encryption, id)
        .and_then(|row| row.aead)
        .map(|a| Aead {
            name: a.name,
            icv_bits: a.icv_bits,
        })
}

/// rsetkey's id of a stored AEAD cipher and ICV length, if it knows it.
pub fn aead_id(name: &str, icv_bits: u32) -> Option<u8> {
    table::by_aead(name, icv_bits).map(|a| a.id)
}
