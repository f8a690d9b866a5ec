//! Every IPsec algorithm rsetkey knows, in one table.
//!
//! One [`Algorithm`] row per algorithm carries everything the layers need
//! to know about it: the names setkey's scanner accepts (and which one it
//! prints), its PF_KEY id, the name setkey's dump prints for that id, and
//! the kernel's `xfrm_algo` row as af_key reports it (crypto API name, IV
//! and key sizes, ICV truncation), and what rsetkey's lints say about it
//! ([`Advice`], after RFC 8221). The parser, the printer, the PF_KEY
//! encoder, the dump, the lints and the XFRM translation all read this
//! table, so adding an algorithm is adding a row.
//!
//! The rows of each kind are in the kernel's table order
//! (`net/xfrm/xfrm_algo.c`), which is the order of the SADB_REGISTER reply
//! and of acquire proposals; rows the kernel does not have (setkey-only
//! names) follow them. setkey's scanner order, which its error messages
//! list names in, is kept per spelling ([`Spelling::scanner_rank`]).

use crate::pfkey::wire::{aalg, calg, ealg};

/// Encryption algorithms setkey can name (`-E`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EncryptAlgorithm {
    /// `des-cbc`, `des-deriv`, `des-32iv`.
    DesCbc,
    /// `3des-cbc`.
    TripleDesCbc,
    /// `null`, `simple`.
    Null,
    /// `blowfish-cbc`.
    BlowfishCbc,
    /// `cast128-cbc`.
    Cast128Cbc,
    /// `twofish-cbc`.
    TwofishCbc,
    /// `aes-cbc`, `rijndael-cbc`.
    AesCbc,
    /// `aes-ctr` (the key carries a 32-bit nonce).
    AesCtr,
    /// `camellia-cbc`.
    CamelliaCbc,
    /// `aes-gcm-8`: AES-GCM with an 8-byte ICV (RFC 4106).
    AesGcm8,
    /// `aes-gcm-12`: AES-GCM with a 12-byte ICV (RFC 4106).
    AesGcm12,
    /// `aes-gcm-16`: AES-GCM with a 16-byte ICV (RFC 4106).
    AesGcm16,
    /// `chacha20-poly1305` (RFC 7634).
    Chacha20Poly1305,
    /// `aes-gmac`: AES-GMAC, authentication only (RFC 4543).
    AesGmac,
}

/// Authentication algorithms setkey can name (`-A`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthAlgorithm {
    /// `hmac-md5`.
    HmacMd5,
    /// `hmac-sha1`.
    HmacSha1,
    /// `keyed-md5` (never offered by Linux).
    KeyedMd5,
    /// `keyed-sha1` (never offered by Linux).
    KeyedSha1,
    /// `hmac-sha256`, `hmac-sha2-256`.
    HmacSha256,
    /// `hmac-sha384`, `hmac-sha2-384`.
    HmacSha384,
    /// `hmac-sha512`, `hmac-sha2-512`.
    HmacSha512,
    /// `hmac-ripemd160`.
    HmacRipemd160,
    /// `aes-xcbc-mac`.
    AesXcbcMac,
    /// `null`.
    Null,
}

/// Compression algorithms setkey can name (`-C`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompressionAlgorithm {
    /// `oui`.
    Oui,
    /// `deflate`.
    Deflate,
    /// `lzs`.
    Lzs,
}

/// What an algorithm does; PF_KEY numbers each kind separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// ESP ciphers (`sadb_sa_encrypt`, `-E`).
    Encryption,
    /// Integrity (`sadb_sa_auth`, `-A`).
    Authentication,
    /// IPComp (`sadb_sa_encrypt` of an IPComp SA, `-C`).
    Compression,
}

/// Which IR algorithm a row is, if setkey can name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setkey {
    /// An `-E` algorithm.
    Encrypt(EncryptAlgorithm),
    /// An `-A` algorithm.
    Auth(AuthAlgorithm),
    /// A `-C` algorithm.
    Compress(CompressionAlgorithm),
    /// Only the kernel has it: setkey has no name for it.
    Unnamed,
}

/// How setkey's grammar treats a spelling (its scanner has one token type
/// per behaviour).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// Takes a key.
    Keyed,
    /// Takes no key (`null`, and the compression names).
    NoKey,
    /// `simple`: no key, and an obsolete-algorithm warning.
    Old,
    /// `des-deriv`: a key, flag 0x20, not with the old protocols.
    Deriv,
    /// `des-32iv`: a key, flag 0x10, only with the old protocols.
    Iv32,
}

/// One name setkey's scanner accepts for an algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spelling {
    /// The name as written in a script.
    pub text: &'static str,
    /// How the grammar treats it.
    pub form: Form,
    /// Its place among the names of its kind in setkey's scanner, which is
    /// the order setkey's messages list them in.
    pub scanner_rank: u8,
}

/// What setkey's dump prints for a row's PF_KEY id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpName {
    /// The printed spelling (the row's first).
    Printed,
    /// Another name: the dump table and the scanner disagree
    /// (`keyed-md5` is dumped as `md5`).
    Other(&'static str),
    /// No name: setkey prints the number.
    Number,
}

/// The kernel's `xfrm_algo` row, as af_key reports it in `sadb_alg`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Xfrm {
    /// The canonical crypto API name the kernel stores (XFRM's
    /// `alg_name`).
    pub name: &'static str,
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

/// A combined-mode (AEAD) cipher: the kernel has it only through XFRM
/// (`XFRMA_ALG_AEAD`); af_key reads its encryption and authentication
/// lists only, so PF_KEY can neither add nor report such an SA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aead {
    /// The crypto API name (`xfrm_algo_aead.alg_name`).
    pub name: &'static str,
    /// `alg_icv_len`: the ICV length in bits.
    pub icv_bits: u32,
    /// The key sizes the kernel takes, in bits, the 32-bit salt included
    /// (RFC 4106 §8.1, RFC 4543 §4, RFC 7634 §2): the key of an AEAD SA is
    /// the cipher key followed by the salt.
    pub key_bits: &'static [u16],
}

/// The bits of the salt at the end of an AEAD key.
pub const AEAD_SALT_BITS: u16 = 32;

/// What rsetkey's lints say about an algorithm (RFC 8221's verdicts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advice {
    /// Nothing: fine, or left to the lints about combinations.
    None,
    /// RFC 8221: MUST NOT; why, when the lint says.
    MustNot(Option<&'static str>),
    /// RFC 8221: SHOULD NOT; why.
    ShouldNot(&'static str),
    /// No longer listed by RFC 8221; why not to use it.
    NotRecommended(&'static str),
    /// A keyed hash from before HMAC.
    PreHmac,
    /// A counter mode: a manual key reuses key stream whenever the SA is
    /// added again.
    CounterMode,
    /// A counter-based AEAD: a manual key reuses nonces whenever the SA
    /// is added again, which breaks confidentiality and integrity (RFC
    /// 4106 §8, RFC 4543 §8, RFC 7634 §5); the RFC naming the rule.
    CounterAead(&'static str),
}

/// One algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Algorithm {
    /// Encryption, authentication or compression.
    pub kind: Kind,
    /// The PF_KEY id (`sadb_alg_id`, `sadb_sa_auth`, `sadb_sa_encrypt`).
    pub id: u8,
    /// The IR algorithm this row is.
    pub setkey: Setkey,
    /// The names setkey accepts; the first is the one it is printed under.
    /// Empty when setkey cannot name it.
    pub names: &'static [Spelling],
    /// What setkey's dump prints for [`Algorithm::id`].
    pub dump: DumpName,
    /// The kernel's row, when the kernel has one PF_KEY can name.
    pub xfrm: Option<Xfrm>,
    /// The kernel's AEAD row, for a combined-mode cipher (which has no
    /// [`Algorithm::xfrm`] row: PF_KEY cannot name it).
    pub aead: Option<Aead>,
    /// What the lints say about it.
    pub advice: Advice,
}

impl Algorithm {
    /// The row with the lints' advice.
    const fn advised(self, advice: Advice) -> Algorithm {
        Algorithm { advice, ..self }
    }

    /// The name setkey statements are printed with; `None` when setkey
    /// cannot name the algorithm.
    pub fn printed_name(&self) -> Option<&'static str> {
        self.names.first().map(|s| s.text)
    }

    /// The spelling of a given grammatical form (`des-deriv` for
    /// [`Form::Deriv`]).
    pub fn spelling(&self, form: Form) -> Option<&'static Spelling> {
        self.names.iter().find(|s| s.form == form)
    }

    /// Whether only rsetkey's own dialect names it (setkey has no such
    /// name, so a script run as `setkey` refuses it as setkey would).
    pub fn rsetkey_only(&self) -> bool {
        self.aead.is_some()
    }

    /// The name setkey's dump prints for this row.
    pub fn dump_name(&self) -> Option<&'static str> {
        match self.dump {
            DumpName::Printed => self.printed_name(),
            DumpName::Other(name) => Some(name),
            DumpName::Number => None,
        }
    }
}

const fn name(text: &'static str, scanner_rank: u8) -> Spelling {
    Spelling {
        text,
        form: Form::Keyed,
        scanner_rank,
    }
}

const fn keyless(text: &'static str, scanner_rank: u8) -> Spelling {
    Spelling {
        text,
        form: Form::NoKey,
        scanner_rank,
    }
}

const fn spelled(text: &'static str, form: Form, scanner_rank: u8) -> Spelling {
    Spelling {
        text,
        form,
        scanner_rank,
    }
}

const fn xfrm(name: &'static str, ivlen: u8, min_bits: u16, max_bits: u16) -> Option<Xfrm> {
    Some(Xfrm {
        name,
        ivlen,
        min_bits,
        max_bits,
        icv_trunc_bits: 0,
    })
}

const fn xfrm_auth(name: &'static str, bits: u16, icv_trunc_bits: u32) -> Option<Xfrm> {
    Some(Xfrm {
        name,
        ivlen: 0,
        min_bits: bits,
        max_bits: bits,
        icv_trunc_bits,
    })
}

const fn auth(
    id: u8,
    alg: Setkey,
    names: &'static [Spelling],
    dump: DumpName,
    xfrm: Option<Xfrm>,
) -> Algorithm {
    Algorithm {
        kind: Kind::Authentication,
        id,
        setkey: alg,
        names,
        dump,
        xfrm,
        aead: None,
        advice: Advice::None,
    }
}

const fn enc(
    id: u8,
    alg: Setkey,
    names: &'static [Spelling],
    dump: DumpName,
    xfrm: Option<Xfrm>,
) -> Algorithm {
    Algorithm {
        kind: Kind::Encryption,
        id,
        setkey: alg,
        names,
        dump,
        xfrm,
        aead: None,
        advice: Advice::None,
    }
}

const fn comp(
    id: u8,
    alg: Setkey,
    names: &'static [Spelling],
    dump: DumpName,
    xfrm: Option<Xfrm>,
) -> Algorithm {
    Algorithm {
        kind: Kind::Compression,
        id,
        setkey: alg,
        names,
        dump,
        xfrm,
        aead: None,
        advice: Advice::None,
    }
}

use AuthAlgorithm as A;
use CompressionAlgorithm as C;
use DumpName::{Number, Printed};
use EncryptAlgorithm as E;
use Setkey::{Auth, Compress, Encrypt, Unnamed};

const AUTH_NULL: Algorithm = auth(
    aalg::NULL,
    Auth(A::Null),
    &[keyless("null", 12)],
    Printed,
    xfrm_auth("digest_null", 0, 0),
);
const HMAC_MD5: Algorithm = auth(
    aalg::MD5_HMAC,
    Auth(A::HmacMd5),
    &[name("hmac-md5", 0)],
    Printed,
    xfrm_auth("hmac(md5)", 128, 96),
)
.advised(Advice::MustNot(None));
const HMAC_SHA1: Algorithm = auth(
    aalg::SHA1_HMAC,
    Auth(A::HmacSha1),
    &[name("hmac-sha1", 1)],
    Printed,
    xfrm_auth("hmac(sha1)", 160, 96),
);
// setkey prints the SHA-2 HMACs under their short names and also accepts
// the RFC 4868 ones.
const HMAC_SHA256: Algorithm = auth(
    aalg::SHA2_256_HMAC,
    Auth(A::HmacSha256),
    &[name("hmac-sha256", 5), name("hmac-sha2-256", 4)],
    Printed,
    xfrm_auth("hmac(sha256)", 256, 96),
);
const HMAC_SHA384: Algorithm = auth(
    aalg::SHA2_384_HMAC,
    Auth(A::HmacSha384),
    &[name("hmac-sha384", 7), name("hmac-sha2-384", 6)],
    Printed,
    xfrm_auth("hmac(sha384)", 384, 192),
);
const HMAC_SHA512: Algorithm = auth(
    aalg::SHA2_512_HMAC,
    Auth(A::HmacSha512),
    &[name("hmac-sha512", 9), name("hmac-sha2-512", 8)],
    Printed,
    xfrm_auth("hmac(sha512)", 512, 256),
);
const HMAC_RIPEMD160: Algorithm = auth(
    aalg::RIPEMD160_HMAC,
    Auth(A::HmacRipemd160),
    &[name("hmac-ripemd160", 10)],
    Printed,
    xfrm_auth("hmac(rmd160)", 160, 96),
);
const AES_XCBC_MAC: Algorithm = auth(
    aalg::AES_XCBC_MAC,
    Auth(A::AesXcbcMac),
    &[name("aes-xcbc-mac", 11)],
    Printed,
    xfrm_auth("xcbc(aes)", 128, 96),
);
// Between xcbc(aes) and hmac(sm3) the kernel has cmac(aes), which PF_KEY
// cannot name (as it cannot name the AEAD ciphers): af_key neither accepts
// nor reports them, so an SA using one dumps with algorithm id 0.
const HMAC_SM3: Algorithm = auth(
    aalg::SM3_256_HMAC,
    Unnamed,
    &[],
    Number,
    xfrm_auth("hmac(sm3)", 256, 96),
);
// The pre-HMAC constructions: setkey's dump table calls them by their hash.
const KEYED_MD5: Algorithm = auth(
    aalg::KEYED_MD5,
    Auth(A::KeyedMd5),
    &[name("keyed-md5", 2)],
    DumpName::Other("md5"),
    None,
)
.advised(Advice::PreHmac);
const KEYED_SHA1: Algorithm = auth(
    aalg::KEYED_SHA1,
    Auth(A::KeyedSha1),
    &[name("keyed-sha1", 3)],
    DumpName::Other("sha"),
    None,
)
.advised(Advice::PreHmac);

const ENC_NULL: Algorithm = enc(
    ealg::NULL,
    Encrypt(E::Null),
    &[keyless("null", 2), spelled("simple", Form::Old, 3)],
    Printed,
    xfrm("ecb(cipher_null)", 0, 0, 0),
);
// des-deriv and des-32iv are DES-CBC with a KAME flag (see [`Form`]).
const DES_CBC: Algorithm = enc(
    ealg::DES_CBC,
    Encrypt(E::DesCbc),
    &[
        name("des-cbc", 0),
        spelled("des-deriv", Form::Deriv, 6),
        spelled("des-32iv", Form::Iv32, 7),
    ],
    Printed,
    xfrm("cbc(des)", 8, 64, 64),
)
.advised(Advice::MustNot(Some("its 56-bit key falls to brute force")));
const DES3_CBC: Algorithm = enc(
    ealg::DES3_CBC,
    Encrypt(E::TripleDesCbc),
    &[name("3des-cbc", 1)],
    Printed,
    xfrm("cbc(des3_ede)", 8, 192, 192),
)
.advised(Advice::ShouldNot(
    "its 64-bit blocks wear out after a few gigabytes under one key",
));
const CAST128_CBC: Algorithm = enc(
    ealg::CAST_CBC,
    Encrypt(E::Cast128Cbc),
    &[name("cast128-cbc", 5)],
    Printed,
    xfrm("cbc(cast5)", 8, 40, 128),
)
.advised(Advice::NotRecommended(
    "64-bit blocks, and RFC 8221 no longer lists it",
));
const BLOWFISH_CBC: Algorithm = enc(
    ealg::BLOWFISH_CBC,
    Encrypt(E::BlowfishCbc),
    &[name("blowfish-cbc", 4)],
    Printed,
    xfrm("cbc(blowfish)", 8, 40, 448),
)
.advised(Advice::MustNot(Some("64-bit blocks and weak keys")));
const AES_CBC: Algorithm = enc(
    ealg::AES_CBC,
    Encrypt(E::AesCbc),
    &[name("aes-cbc", 9), name("rijndael-cbc", 10)],
    Printed,
    xfrm("cbc(aes)", 8, 128, 256),
);
const SERPENT_CBC: Algorithm = enc(
    ealg::SERPENT_CBC,
    Unnamed,
    &[],
    Number,
    xfrm("cbc(serpent)", 8, 128, 256),
);
const CAMELLIA_CBC: Algorithm = enc(
    ealg::CAMELLIA_CBC,
    Encrypt(E::CamelliaCbc),
    &[name("camellia-cbc", 12)],
    Printed,
    xfrm("cbc(camellia)", 8, 128, 256),
);
const TWOFISH_CBC: Algorithm = enc(
    ealg::TWOFISH_CBC,
    Encrypt(E::TwofishCbc),
    &[name("twofish-cbc", 8)],
    Printed,
    xfrm("cbc(twofish)", 8, 128, 256),
);
// The key carries the 32-bit nonce after the AES key (RFC 3686).
const AES_CTR: Algorithm = enc(
    ealg::AES_CTR,
    Encrypt(E::AesCtr),
    &[name("aes-ctr", 11)],
    Printed,
    xfrm("rfc3686(ctr(aes))", 8, 160, 288),
)
.advised(Advice::CounterMode);
const SM4_CBC: Algorithm = enc(
    ealg::SM4_CBC,
    Unnamed,
    &[],
    Number,
    xfrm("cbc(sm4)", 16, 128, 256),
);

// The combined-mode ciphers (AEAD). setkey (ipsec-tools) has no names for
// them; the names are FreeBSD setkey's (`aes-gcm-16`; `aes-gcm-8` and
// `aes-gcm-12` for the shorter ICVs Linux also offers). Linux's af_key
// reads only the kernel's encryption and authentication lists
// (`xfrm_ealg_get_byid`, `xfrm_aalg_get_byid`), never its AEAD list, so
// these travel through XFRM only. The ids are the PF_KEY ids Linux's
// `pfkeyv2.h` gives them (FreeBSD's for AES-GCM are the same), used only
// inside rsetkey: the PF_KEY socket never sends them.
const fn aead(
    id: u8,
    alg: EncryptAlgorithm,
    names: &'static [Spelling],
    aead: Aead,
    rfc: &'static str,
) -> Algorithm {
    Algorithm {
        kind: Kind::Encryption,
        id,
        setkey: Encrypt(alg),
        names,
        dump: Printed,
        xfrm: None,
        aead: Some(aead),
        advice: Advice::CounterAead(rfc),
    }
}

/// AES-128, -192 or -256 and the 32-bit salt.
const AES_SALTED: &[u16] = &[
    128 + AEAD_SALT_BITS,
    192 + AEAD_SALT_BITS,
    256 + AEAD_SALT_BITS,
];

const AES_GCM_8: Algorithm = aead(
    ealg::AES_GCM_ICV8,
    E::AesGcm8,
    &[name("aes-gcm-8", 13)],
    Aead {
        name: "rfc4106(gcm(aes))",
        icv_bits: 64,
        key_bits: AES_SALTED,
    },
    "RFC 4106 §8",
);
const AES_GCM_12: Algorithm = aead(
    ealg::AES_GCM_ICV12,
    E::AesGcm12,
    &[name("aes-gcm-12", 14)],
    Aead {
        name: "rfc4106(gcm(aes))",
        icv_bits: 96,
        key_bits: AES_SALTED,
    },
    "RFC 4106 §8",
);
const AES_GCM_16: Algorithm = aead(
    ealg::AES_GCM_ICV16,
    E::AesGcm16,
    &[name("aes-gcm-16", 15)],
    Aead {
        name: "rfc4106(gcm(aes))",
        icv_bits: 128,
        key_bits: AES_SALTED,
    },
    "RFC 4106 §8",
);
// Linux's PF_KEY has no id for ChaCha20-Poly1305 (its xfrm_algo row is
// not PF_KEY-capable); 28 is its IKEv2 transform id (RFC 7634 §4), which
// no Linux PF_KEY id takes.
const CHACHA20_POLY1305: Algorithm = aead(
    28,
    E::Chacha20Poly1305,
    &[name("chacha20-poly1305", 16)],
    Aead {
        name: "rfc7539esp(chacha20,poly1305)",
        icv_bits: 128,
        key_bits: &[256 + AEAD_SALT_BITS],
    },
    "RFC 7634 §5",
);
// Authentication only: ESP with null encryption and a GMAC ICV.
const AES_GMAC: Algorithm = aead(
    ealg::NULL_AES_GMAC,
    E::AesGmac,
    &[name("aes-gmac", 17)],
    Aead {
        name: "rfc4543(gcm(aes))",
        icv_bits: 128,
        key_bits: AES_SALTED,
    },
    "RFC 4543 §8",
);

const DEFLATE: Algorithm = comp(
    calg::DEFLATE,
    Compress(C::Deflate),
    &[keyless("deflate", 1)],
    Printed,
    xfrm("deflate", 0, 0, 0),
);
const LZS: Algorithm = comp(
    calg::LZS,
    Compress(C::Lzs),
    &[keyless("lzs", 2)],
    Printed,
    xfrm("lzs", 0, 0, 0),
);
const LZJH: Algorithm = comp(calg::LZJH, Unnamed, &[], Number, xfrm("lzjh", 0, 0, 0));
const OUI: Algorithm = comp(
    calg::OUI,
    Compress(C::Oui),
    &[keyless("oui", 0)],
    Printed,
    None,
);

/// Every algorithm: per kind, the kernel's rows in its order, then the
/// ones only setkey names. The rows of a kind are contiguous, so that a
/// lookup scans only its kind's span.
pub static TABLE: [Algorithm; 31] = ROWS;

const ROWS: [Algorithm; 31] = [
    AUTH_NULL,
    HMAC_MD5,
    HMAC_SHA1,
    HMAC_SHA256,
    HMAC_SHA384,
    HMAC_SHA512,
    HMAC_RIPEMD160,
    AES_XCBC_MAC,
    HMAC_SM3,
    KEYED_MD5,
    KEYED_SHA1,
    ENC_NULL,
    DES_CBC,
    DES3_CBC,
    CAST128_CBC,
    BLOWFISH_CBC,
    AES_CBC,
    SERPENT_CBC,
    CAMELLIA_CBC,
    TWOFISH_CBC,
    AES_CTR,
    SM4_CBC,
    AES_GCM_8,
    AES_GCM_12,
    AES_GCM_16,
    CHACHA20_POLY1305,
    AES_GMAC,
    DEFLATE,
    LZS,
    LZJH,
    OUI,
];

/// The cipher the lints recommend.
pub const RECOMMENDED_CIPHER: &str = AES_CBC.names[0].text;

/// The integrity algorithm the lints recommend, under the name RFC 8221
/// and RFC 4868 give it.
pub const RECOMMENDED_INTEGRITY: &str = HMAC_SHA256.names[1].text;

/// What setkey's dump prints for algorithm id 0 of any kind.
const DUMP_NONE: &str = "none";

/// `-A tcp-md5` (RFC 2385): setkey's scanner knows the name, but a Linux
/// build has no such algorithm, so the scanner eats it without a token.
pub const TCP_MD5: &str = "tcp-md5";

impl EncryptAlgorithm {
    /// This algorithm's row.
    pub fn row(self) -> &'static Algorithm {
        match self {
            E::DesCbc => &DES_CBC,
            E::TripleDesCbc => &DES3_CBC,
            E::Null => &ENC_NULL,
            E::BlowfishCbc => &BLOWFISH_CBC,
            E::Cast128Cbc => &CAST128_CBC,
            E::TwofishCbc => &TWOFISH_CBC,
            E::AesCbc => &AES_CBC,
            E::AesCtr => &AES_CTR,
            E::CamelliaCbc => &CAMELLIA_CBC,
            E::AesGcm8 => &AES_GCM_8,
            E::AesGcm12 => &AES_GCM_12,
            E::AesGcm16 => &AES_GCM_16,
            E::Chacha20Poly1305 => &CHACHA20_POLY1305,
            E::AesGmac => &AES_GMAC,
        }
    }
}

impl AuthAlgorithm {
    /// This algorithm's row.
    pub fn row(self) -> &'static Algorithm {
        match self {
            A::HmacMd5 => &HMAC_MD5,
            A::HmacSha1 => &HMAC_SHA1,
            A::KeyedMd5 => &KEYED_MD5,
            A::KeyedSha1 => &KEYED_SHA1,
            A::HmacSha256 => &HMAC_SHA256,
            A::HmacSha384 => &HMAC_SHA384,
            A::HmacSha512 => &HMAC_SHA512,
            A::HmacRipemd160 => &HMAC_RIPEMD160,
            A::AesXcbcMac => &AES_XCBC_MAC,
            A::Null => &AUTH_NULL,
        }
    }
}

impl CompressionAlgorithm {
    /// This algorithm's row.
    pub fn row(self) -> &'static Algorithm {
        match self {
            C::Oui => &OUI,
            C::Deflate => &DEFLATE,
            C::Lzs => &LZS,
        }
    }
}

/// The span of [`TABLE`] holding the rows of `kind` (found when compiling).
const fn span(kind: Kind) -> (usize, usize) {
    let (mut start, mut end, mut i) = (ROWS.len(), 0, 0);
    while i < ROWS.len() {
        if ROWS[i].kind as u8 == kind as u8 {
            if start > i {
                start = i;
            }
            end = i + 1;
        }
        i += 1;
    }
    (start, end)
}

const SPANS: [(usize, usize); 3] = [
    span(Kind::Encryption),
    span(Kind::Authentication),
    span(Kind::Compression),
];

/// The rows of one kind, in table order.
pub fn of_kind(kind: Kind) -> &'static [Algorithm] {
    let (start, end) = match kind {
        Kind::Encryption => SPANS[0],
        Kind::Authentication => SPANS[1],
        Kind::Compression => SPANS[2],
    };
    TABLE.get(start..end).unwrap_or_default()
}

/// The row of a PF_KEY id.
pub fn by_id(kind: Kind, id: u8) -> Option<&'static Algorithm> {
    of_kind(kind).iter().find(|a| a.id == id)
}

/// The row the scanner reads for a name of this kind. (The lexer asks for
/// every word after `-E` and `-A`: lengths and first bytes tell most names
/// apart before the bytes are compared.)
pub fn by_name(kind: Kind, word: &[u8]) -> Option<(&'static Algorithm, &'static Spelling)> {
    of_kind(kind).iter().find_map(|a| {
        a.names
            .iter()
            .find(|s| {
                let text = s.text.as_bytes();
                text.len() == word.len() && text.first() == word.first() && text == word
            })
            .map(|s| (a, s))
    })
}

/// The names of one kind in setkey's scanner order (the order its
/// messages list them in).
pub fn scanner_names(kind: Kind) -> Vec<&'static str> {
    let mut names: Vec<&Spelling> = of_kind(kind).iter().flat_map(|a| a.names).collect();
    names.sort_by_key(|s| s.scanner_rank);
    names.into_iter().map(|s| s.text).collect()
}

/// The row of a crypto API name, among the kernel's rows of one kind.
pub fn by_xfrm_name(kind: Kind, name: &str) -> Option<&'static Algorithm> {
    of_kind(kind)
        .iter()
        .find(|a| a.xfrm.is_some_and(|x| x.name == name))
}

/// The AEAD row of a crypto API name and ICV length (the kernel stores
/// AES-GCM under one name for its three ICV lengths).
pub fn by_aead(name: &str, icv_bits: u32) -> Option<&'static Algorithm> {
    of_kind(Kind::Encryption).iter().find(|a| {
        a.aead
            .is_some_and(|x| x.name == name && x.icv_bits == icv_bits)
    })
}

/// What setkey's dump prints for a PF_KEY id: `none` for 0, the row's dump
/// name, or `None` when setkey prints the number.
pub fn dump_name(kind: Kind, id: u8) -> Option<&'static str> {
    if id == 0 {
        return Some(DUMP_NONE);
    }
    by_id(kind, id).and_then(Algorithm::dump_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: [Kind; 3] = [Kind::Encryption, Kind::Authentication, Kind::Compression];

    #[test]
    fn every_name_round_trips_through_its_pfkey_id() {
        for row in &TABLE {
            for s in row.names {
                let (by_name, spelling) = by_name(row.kind, s.text.as_bytes()).expect(s.text);
                assert_eq!(by_name, row, "{}", s.text);
                assert_eq!(spelling, s);
                let by_number = by_id(row.kind, by_name.id).expect(s.text);
                assert_eq!(by_number, row, "{}", s.text);
                // every name setkey reads, setkey's dump prints somehow
                assert!(by_number.dump_name().is_some(), "{}", s.text);
            }
        }
    }

    #[test]
    fn the_rows_of_a_kind_are_one_span() {
        for kind in KINDS {
            let span = of_kind(kind);
            assert!(!span.is_empty());
            assert!(span.iter().all(|a| a.kind == kind), "{kind:?}");
            let all = TABLE.iter().filter(|a| a.kind == kind).count();
            assert_eq!(span.len(), all, "{kind:?}: rows outside the span");
        }
    }

    #[test]
    fn ids_and_names_are_unique_per_kind() {
        for kind in KINDS {
            let rows = of_kind(kind);
            for (i, a) in rows.iter().enumerate() {
                assert_ne!(a.id, 0, "0 means no algorithm");
                for b in &rows[i + 1..] {
                    assert_ne!(a.id, b.id);
                    for s in a.names {
                        assert!(b.names.iter().all(|t| t.text != s.text), "{}", s.text);
                    }
                    if let (Some(x), Some(y)) = (a.xfrm, b.xfrm) {
                        assert_ne!(x.name, y.name);
                    }
                }
            }
            let mut ranks: Vec<u8> = rows
                .iter()
                .flat_map(|a| a.names)
                .map(|s| s.scanner_rank)
                .collect();
            ranks.sort_unstable();
            let expected: Vec<u8> = (0..ranks.len() as u8).collect();
            assert_eq!(ranks, expected, "{kind:?}: scanner ranks 0..n, once each");
        }
    }

    #[test]
    fn every_xfrm_name_maps_back() {
        for row in &TABLE {
            if let Some(x) = row.xfrm {
                assert_eq!(by_xfrm_name(row.kind, x.name), Some(row), "{}", x.name);
            }
        }
        assert_eq!(by_xfrm_name(Kind::Encryption, "gcm(aes)"), None);
    }

    #[test]
    fn the_ir_algorithms_and_their_rows_agree() {
        for row in &TABLE {
            let (back, kind) = match row.setkey {
                Setkey::Encrypt(e) => (e.row(), Kind::Encryption),
                Setkey::Auth(a) => (a.row(), Kind::Authentication),
                Setkey::Compress(c) => (c.row(), Kind::Compression),
                Setkey::Unnamed => {
                    assert!(row.names.is_empty());
                    assert_eq!(row.dump, DumpName::Number);
                    continue;
                }
            };
            assert_eq!(back, row);
            assert_eq!(kind, row.kind);
            assert!(row.printed_name().is_some());
            assert!(TABLE.contains(back));
        }
    }

    #[test]
    fn the_aead_rows_map_back_and_stay_out_of_pfkey() {
        for row in TABLE.iter().filter(|r| r.aead.is_some()) {
            let x = row.aead.expect("aead");
            assert_eq!(by_aead(x.name, x.icv_bits), Some(row));
            // PF_KEY cannot name them: no af_key row, so no SADB_REGISTER
            // entry and no PF_KEY key-length range
            assert_eq!(row.xfrm, None);
            assert!(row.rsetkey_only());
            assert_eq!(row.dump_name(), row.printed_name());
            assert!(matches!(row.advice, Advice::CounterAead(_)));
            assert!(x.key_bits.iter().all(|b| b % 8 == 0 && *b > AEAD_SALT_BITS));
        }
        let gcm = E::AesGcm16.row();
        assert_eq!(gcm.id, 20);
        assert_eq!(gcm.printed_name(), Some("aes-gcm-16"));
        assert_eq!(by_aead("rfc4106(gcm(aes))", 64), Some(E::AesGcm8.row()));
        assert_eq!(by_aead("rfc4106(gcm(aes))", 32), None);
        assert_eq!(
            E::Chacha20Poly1305.row().aead.map(|a| a.key_bits),
            Some(&[288u16][..])
        );
        assert_eq!(
            dump_name(Kind::Encryption, ealg::NULL_AES_GMAC),
            Some("aes-gmac")
        );
        assert!(!E::AesCbc.row().rsetkey_only());
    }

    #[test]
    fn setkey_quirks() {
        let dump = |kind, id| dump_name(kind, id);
        assert_eq!(dump(Kind::Authentication, aalg::KEYED_MD5), Some("md5"));
        assert_eq!(dump(Kind::Authentication, aalg::KEYED_SHA1), Some("sha"));
        assert_eq!(dump(Kind::Authentication, 0), Some(DUMP_NONE));
        assert_eq!(dump(Kind::Compression, 0), Some(DUMP_NONE));
        assert_eq!(dump(Kind::Encryption, ealg::SERPENT_CBC), None);
        assert_eq!(dump(Kind::Encryption, 200), None);
        assert_eq!(
            AuthAlgorithm::HmacSha256.row().dump_name(),
            AuthAlgorithm::HmacSha256.row().printed_name()
        );
        let (row, s) = by_name(Kind::Encryption, b"simple").expect("simple");
        assert_eq!((row.setkey, s.form), (Encrypt(E::Null), Form::Old));
        assert_eq!(
            E::DesCbc.row().spelling(Form::Deriv).map(|s| s.text),
            Some("des-deriv")
        );
        // names belong to their kind only
        assert!(by_name(Kind::Encryption, b"hmac-md5").is_none());
        assert_eq!(
            scanner_names(Kind::Encryption).first().copied(),
            E::DesCbc.row().printed_name()
        );
    }
}
