//! The kernel's algorithm table as PF_KEY sees it (`net/xfrm/xfrm_algo.c`):
//! PF_KEY ids ↔ crypto API names, with the `sadb_alg` values af_key reports
//! and the ICV truncation it configures.
//!
//! Rows are in the kernel's table order, which is the order of the
//! SADB_REGISTER reply. Rows the kernel marks as not PF_KEY-capable (e.g.
//! `cmac(aes)`, the AEAD ciphers) are left out: af_key neither accepts nor
//! reports them, so an SA using one dumps with algorithm id 0.

use crate::pfkey::wire::{aalg, calg, ealg};

/// One PF_KEY-capable algorithm.
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

const fn auth(name: &'static str, id: u8, bits: u16, trunc: u32) -> Algorithm {
    Algorithm {
        name,
        id,
        ivlen: 0,
        min_bits: bits,
        max_bits: bits,
        icv_trunc_bits: trunc,
    }
}

const fn enc(name: &'static str, id: u8, ivlen: u8, min_bits: u16, max_bits: u16) -> Algorithm {
    Algorithm {
        name,
        id,
        ivlen,
        min_bits,
        max_bits,
        icv_trunc_bits: 0,
    }
}

/// Authentication algorithms, in the kernel's order.
pub const AUTH: [Algorithm; 9] = [
    auth("digest_null", aalg::NULL, 0, 0),
    auth("hmac(md5)", aalg::MD5_HMAC, 128, 96),
    auth("hmac(sha1)", aalg::SHA1_HMAC, 160, 96),
    auth("hmac(sha256)", aalg::SHA2_256_HMAC, 256, 96),
    auth("hmac(sha384)", aalg::SHA2_384_HMAC, 384, 192),
    auth("hmac(sha512)", aalg::SHA2_512_HMAC, 512, 256),
    auth("hmac(rmd160)", aalg::RIPEMD160_HMAC, 160, 96),
    auth("xcbc(aes)", aalg::AES_XCBC_MAC, 128, 96),
    // between xcbc(aes) and hmac(sm3) the kernel has cmac(aes), which
    // PF_KEY cannot name
    auth("hmac(sm3)", aalg::SM3_256_HMAC, 256, 96),
];

/// Encryption algorithms, in the kernel's order.
pub const ENCRYPT: [Algorithm; 11] = [
    enc("ecb(cipher_null)", ealg::NULL, 0, 0, 0),
    enc("cbc(des)", ealg::DES_CBC, 8, 64, 64),
    enc("cbc(des3_ede)", ealg::DES3_CBC, 8, 192, 192),
    enc("cbc(cast5)", ealg::CAST_CBC, 8, 40, 128),
    enc("cbc(blowfish)", ealg::BLOWFISH_CBC, 8, 40, 448),
    enc("cbc(aes)", ealg::AES_CBC, 8, 128, 256),
    enc("cbc(serpent)", ealg::SERPENT_CBC, 8, 128, 256),
    enc("cbc(camellia)", ealg::CAMELLIA_CBC, 8, 128, 256),
    enc("cbc(twofish)", ealg::TWOFISH_CBC, 8, 128, 256),
    enc("rfc3686(ctr(aes))", ealg::AES_CTR, 8, 160, 288),
    enc("cbc(sm4)", ealg::SM4_CBC, 16, 128, 256),
];

/// Compression algorithms (IPComp), in the kernel's order.
pub const COMPRESS: [Algorithm; 3] = [
    enc("deflate", calg::DEFLATE, 0, 0, 0),
    enc("lzs", calg::LZS, 0, 0, 0),
    enc("lzjh", calg::LZJH, 0, 0, 0),
];

fn by_id(table: &[Algorithm], id: u8) -> Option<&Algorithm> {
    table.iter().find(|a| a.id == id)
}

fn by_name<'a>(table: &'a [Algorithm], name: &str) -> Option<&'a Algorithm> {
    table.iter().find(|a| a.name == name)
}

/// The authentication algorithm with this PF_KEY id.
pub fn auth_by_id(id: u8) -> Option<&'static Algorithm> {
    by_id(&AUTH, id)
}

/// The encryption algorithm with this PF_KEY id.
pub fn encrypt_by_id(id: u8) -> Option<&'static Algorithm> {
    by_id(&ENCRYPT, id)
}

/// The compression algorithm with this PF_KEY id.
pub fn compress_by_id(id: u8) -> Option<&'static Algorithm> {
    by_id(&COMPRESS, id)
}

/// PF_KEY id of a stored authentication algorithm name (0 if none).
pub fn auth_id(name: &str) -> u8 {
    by_name(&AUTH, name).map_or(0, |a| a.id)
}

/// PF_KEY id of a stored encryption algorithm name (0 if none).
pub fn encrypt_id(name: &str) -> u8 {
    by_name(&ENCRYPT, name).map_or(0, |a| a.id)
}

/// PF_KEY id of a stored compression algorithm name (0 if none).
pub fn compress_id(name: &str) -> u8 {
    by_name(&COMPRESS, name).map_or(0, |a| a.id)
}
