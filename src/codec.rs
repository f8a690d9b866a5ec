//! The byte codec every wire format of the crate is read and written with:
//! PF_KEY v2 messages, netlink and XFRM structures, the kdebug decoder of
//! `-x` / `-v` and the XFRM snapshot of `--atomic`.
//!
//! In the style of smoltcp's `wire` module, a format's module keeps a plain
//! value (its `Repr`) with a `parse` over bytes and an `emit` that appends
//! bytes; this module gives them the three things they share:
//!
//! * [`Reader`], a view over `&[u8]` reading fields at offsets. A format
//!   checks its structure's size once ([`Reader::new_checked`], like
//!   smoltcp's `new_checked`), then reads fields without `?` on each. A
//!   read that would pass the end gives zeros rather than panicking, which
//!   is also what the kdebug decoder wants for short extensions.
//! * [`Writer`], which appends to a `Vec<u8>` or a `BytesMut` and pads with
//!   zeros to PF_KEY's 8-byte words or netlink's 4-byte `NLA_ALIGNTO`.
//! * Netlink attributes (TLVs): [`attributes`] walks them, [`Writer::attribute`]
//!   appends one.
//!
//! Every method names its byte order: `ne_*` is the host's (PF_KEY and
//! netlink integers), `be_*` is network order (SPIs, ports, addresses).
//! Nothing here panics on any input.

use bytes::BytesMut;

/// PF_KEY lengths count 8-byte words, and extensions are padded to them.
pub const PFKEY_ALIGN: usize = 8;
/// `NLA_ALIGNTO` / `NLMSG_ALIGNTO`: netlink messages and attributes are
/// padded to 4 bytes.
pub const NETLINK_ALIGN: usize = 4;
/// Size of `struct nlattr`.
pub const NLA_HDRLEN: usize = 4;
/// `NLA_TYPE_MASK`: `nla_type` without `NLA_F_NESTED` and
/// `NLA_F_NET_BYTEORDER`.
pub const NLA_TYPE_MASK: u16 = 0x3fff;

/// Rounds `n` up to a multiple of `align` (a power of two in every format
/// here); saturates instead of overflowing.
pub fn align(n: usize, align: usize) -> usize {
    n.div_ceil(align.max(1)).saturating_mul(align.max(1))
}

/// A structure shorter than its format's fixed size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Short {
    /// bytes available
    pub have: usize,
    /// bytes the structure needs
    pub need: usize,
}

/// A bounds-checked view over bytes, read at offsets.
///
/// Reads past the end give zero (or an empty slice, or `None` for the
/// `get_*` forms): a format checks its fixed size up front with
/// [`Reader::new_checked`], so for well-formed input this never happens,
/// and for malformed input nothing panics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A view over all of `buf`, without a size check.
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf }
    }

    /// A view over `buf` once it holds at least `need` bytes.
    pub fn new_checked(buf: &'a [u8], need: usize) -> Result<Reader<'a>, Short> {
        if buf.len() < need {
            Err(Short {
                have: buf.len(),
                need,
            })
        } else {
            Ok(Reader { buf })
        }
    }

    /// The bytes viewed.
    pub fn bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// Number of bytes viewed.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether the view is empty.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// `N` bytes at `at`, if they are all there.
    pub fn get_array<const N: usize>(&self, at: usize) -> Option<[u8; N]> {
        self.buf
            .get(at..at.checked_add(N)?)
            .and_then(|s| s.try_into().ok())
    }

    /// `N` bytes at `at`; zeros where the view ends before them.
    pub fn array<const N: usize>(&self, at: usize) -> [u8; N] {
        if let Some(a) = self.get_array(at) {
            return a;
        }
        // Partly inside: keep what is there (kdebug prints it), zero the rest.
        let mut a = [0u8; N];
        let have = self.tail(at);
        let n = have.len().min(N);
        a[..n].copy_from_slice(&have[..n]);
        a
    }

    /// The byte at `at` (0 past the end).
    pub fn u8(&self, at: usize) -> u8 {
        self.buf.get(at).copied().unwrap_or(0)
    }

    /// A host-order `u16` at `at`.
    pub fn ne_u16(&self, at: usize) -> u16 {
        u16::from_ne_bytes(self.array(at))
    }

    /// A host-order `u32` at `at`.
    pub fn ne_u32(&self, at: usize) -> u32 {
        u32::from_ne_bytes(self.array(at))
    }

    /// A host-order `i32` at `at`.
    pub fn ne_i32(&self, at: usize) -> i32 {
        i32::from_ne_bytes(self.array(at))
    }

    /// A host-order `u64` at `at`.
    pub fn ne_u64(&self, at: usize) -> u64 {
        u64::from_ne_bytes(self.array(at))
    }

    /// A network-order `u16` at `at` (ports).
    pub fn be_u16(&self, at: usize) -> u16 {
        u16::from_be_bytes(self.array(at))
    }

    /// A network-order `u32` at `at` (SPIs).
    pub fn be_u32(&self, at: usize) -> u32 {
        u32::from_be_bytes(self.array(at))
    }

    /// A host-order `u16` at `at`, if it is all there.
    pub fn get_ne_u16(&self, at: usize) -> Option<u16> {
        self.get_array(at).map(u16::from_ne_bytes)
    }

    /// A host-order `u32` at `at`, if it is all there.
    pub fn get_ne_u32(&self, at: usize) -> Option<u32> {
        self.get_array(at).map(u32::from_ne_bytes)
    }

    /// `len` bytes at `at`, if they are all there.
    pub fn slice(&self, at: usize, len: usize) -> Option<&'a [u8]> {
        self.buf.get(at..at.checked_add(len)?)
    }

    /// Everything from `at` on (empty past the end).
    pub fn tail(&self, at: usize) -> &'a [u8] {
        self.buf.get(at..).unwrap_or_default()
    }

    /// A view from `at` on (empty past the end).
    pub fn skip(&self, at: usize) -> Reader<'a> {
        Reader::new(self.tail(at))
    }

    /// `len` bytes at `at` and the zeros that stand for what is missing.
    ///
    /// Allocated once at its final size: the bytes may be key material
    /// (kdebug wraps them in `Zeroizing`), and a `Vec` that grew would
    /// leave an unwiped copy behind.
    pub fn bytes_zero_extended(&self, at: usize, len: usize) -> Vec<u8> {
        let have = self.tail(at);
        let mut v = Vec::with_capacity(len);
        v.extend_from_slice(have.get(..len).unwrap_or(have));
        v.resize(len, 0);
        v
    }
}

/// Where a [`Writer`] appends: a `Vec<u8>` (netlink, XFRM) or a `BytesMut`
/// (PF_KEY).
pub trait Sink {
    /// Appends bytes.
    fn put(&mut self, bytes: &[u8]);
    /// Appends `n` zero bytes.
    fn put_zeros(&mut self, n: usize);
    /// Bytes written so far.
    fn written(&self) -> usize;
    /// Overwrites bytes already written at `at` (a length field filled in
    /// after its body); out-of-range writes are ignored.
    fn patch(&mut self, at: usize, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
    fn put_zeros(&mut self, n: usize) {
        self.resize(self.len() + n, 0);
    }
    fn written(&self) -> usize {
        self.len()
    }
    fn patch(&mut self, at: usize, bytes: &[u8]) {
        if let Some(s) = at
            .checked_add(bytes.len())
            .and_then(|end| self.get_mut(at..end))
        {
            s.copy_from_slice(bytes);
        }
    }
}

impl Sink for BytesMut {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
    fn put_zeros(&mut self, n: usize) {
        self.resize(self.len() + n, 0);
    }
    fn written(&self) -> usize {
        self.len()
    }
    fn patch(&mut self, at: usize, bytes: &[u8]) {
        if let Some(s) = at
            .checked_add(bytes.len())
            .and_then(|end| self.get_mut(at..end))
        {
            s.copy_from_slice(bytes);
        }
    }
}

/// Appends fields to a [`Sink`] in the order of a structure.
pub struct Writer<'a, S: Sink + ?Sized> {
    out: &'a mut S,
}

impl<'a, S: Sink + ?Sized> Writer<'a, S> {
    /// A writer appending to `out`.
    pub fn new(out: &'a mut S) -> Writer<'a, S> {
        Writer { out }
    }

    /// Bytes in the sink so far (an offset to pad or patch from).
    pub fn position(&self) -> usize {
        self.out.written()
    }

    /// One byte.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.out.put(&[v]);
        self
    }

    /// A host-order `u16`.
    pub fn ne_u16(&mut self, v: u16) -> &mut Self {
        self.out.put(&v.to_ne_bytes());
        self
    }

    /// A host-order `u32`.
    pub fn ne_u32(&mut self, v: u32) -> &mut Self {
        self.out.put(&v.to_ne_bytes());
        self
    }

    /// A host-order `i32`.
    pub fn ne_i32(&mut self, v: i32) -> &mut Self {
        self.out.put(&v.to_ne_bytes());
        self
    }

    /// A host-order `u64`.
    pub fn ne_u64(&mut self, v: u64) -> &mut Self {
        self.out.put(&v.to_ne_bytes());
        self
    }

    /// A network-order `u16` (ports).
    pub fn be_u16(&mut self, v: u16) -> &mut Self {
        self.out.put(&v.to_be_bytes());
        self
    }

    /// A network-order `u32` (SPIs).
    pub fn be_u32(&mut self, v: u32) -> &mut Self {
        self.out.put(&v.to_be_bytes());
        self
    }

    /// Bytes as they are.
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.out.put(v);
        self
    }

    /// `n` zero bytes (reserved fields).
    pub fn zeros(&mut self, n: usize) -> &mut Self {
        self.out.put_zeros(n);
        self
    }

    /// Zeros until what was written since `start` fills `len` bytes;
    /// nothing if it already does (a structure written short of its
    /// computed size, e.g. PF_KEY's padding to 8-byte words).
    pub fn pad_to(&mut self, start: usize, len: usize) -> &mut Self {
        let written = self.position().saturating_sub(start);
        self.zeros(len.saturating_sub(written))
    }

    /// Zeros until what was written since `start` is a multiple of
    /// `alignment` ([`PFKEY_ALIGN`], [`NETLINK_ALIGN`]).
    pub fn align_from(&mut self, start: usize, alignment: usize) -> &mut Self {
        let written = self.position().saturating_sub(start);
        self.zeros(align(written, alignment) - written)
    }

    /// Overwrites a host-order `u16` written earlier at `at` (a length
    /// known only after its body).
    pub fn patch_ne_u16(&mut self, at: usize, v: u16) -> &mut Self {
        self.out.patch(at, &v.to_ne_bytes());
        self
    }

    /// Overwrites a host-order `u32` written earlier at `at`.
    pub fn patch_ne_u32(&mut self, at: usize, v: u32) -> &mut Self {
        self.out.patch(at, &v.to_ne_bytes());
        self
    }

    /// A netlink attribute: `struct nlattr` with `nla_len` = header + value,
    /// the value `body` writes, and zero padding to 4 bytes. A value over
    /// 64 KiB gets a saturated length rather than a panic (the kernel
    /// refuses it).
    pub fn attribute(&mut self, kind: u16, body: impl FnOnce(&mut Self)) -> &mut Self {
        let start = self.position();
        self.ne_u16(0).ne_u16(kind);
        body(self);
        let len = u16::try_from(self.position() - start).unwrap_or(u16::MAX);
        self.patch_ne_u16(start, len);
        self.align_from(start, NETLINK_ALIGN)
    }
}

/// One netlink attribute of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribute<'a> {
    /// `nla_type` with the flag bits masked off ([`NLA_TYPE_MASK`]).
    pub kind: u16,
    /// The value (`nla_len` − 4 bytes).
    pub value: &'a [u8],
    /// The whole attribute: header, value and the padding that follows it
    /// (less where the buffer ends first), to copy it as it is.
    pub whole: &'a [u8],
}

/// An attribute whose `nla_len` is below its header or past the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadAttribute {
    /// `nla_len`
    pub len: usize,
    /// bytes left from the attribute's start
    pub have: usize,
}

/// Walks the netlink attributes filling `buf`.
///
/// A tail shorter than an attribute header is padding and ends the walk;
/// a bad length yields one error and ends it.
pub fn attributes(buf: &[u8]) -> Attributes<'_> {
    Attributes {
        rest: buf,
        failed: false,
    }
}

/// Iterator of [`attributes`].
#[derive(Debug, Clone)]
pub struct Attributes<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Iterator for Attributes<'a> {
    type Item = Result<Attribute<'a>, BadAttribute>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let r = Reader::new(self.rest);
        let len = usize::from(r.get_ne_u16(0)?);
        let kind = r.get_ne_u16(2)? & NLA_TYPE_MASK;
        let value = if len < NLA_HDRLEN {
            None
        } else {
            r.slice(NLA_HDRLEN, len - NLA_HDRLEN)
        };
        let Some(value) = value else {
            self.failed = true;
            return Some(Err(BadAttribute {
                len,
                have: self.rest.len(),
            }));
        };
        let whole_len = align(len, NETLINK_ALIGN).min(self.rest.len());
        let (whole, rest) = self.rest.split_at(whole_len);
        self.rest = rest;
        Some(Ok(Attribute { kind, value, whole }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_name_their_byte_order() {
        let b = [0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0];
        let r = Reader::new(&b);
        assert_eq!(r.be_u16(0), 0x1234);
        assert_eq!(r.be_u32(0), 0x1234_5678);
        assert_eq!(r.ne_u16(2), u16::from_ne_bytes([0x56, 0x78]));
        assert_eq!(r.ne_u32(4), u32::from_ne_bytes([0x9a, 0xbc, 0xde, 0xf0]));
        assert_eq!(r.ne_u64(0), u64::from_ne_bytes(b));
    }

    #[test]
    fn reads_past_the_end_are_zero_extended() {
        let r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u8(3), 0);
        assert_eq!(r.array::<4>(1), [2, 3, 0, 0]);
        assert_eq!(r.ne_u32(usize::MAX), 0);
        assert_eq!(r.get_ne_u16(2), None);
        assert_eq!(r.slice(1, 2), Some(&[2, 3][..]));
        assert_eq!(r.slice(2, 2), None);
        assert_eq!(r.slice(usize::MAX, 2), None);
        assert_eq!(r.tail(5), &[] as &[u8]);
        assert_eq!(r.bytes_zero_extended(2, 3), [3, 0, 0]);
        assert_eq!(
            Reader::new_checked(&[0; 3], 4),
            Err(Short { have: 3, need: 4 })
        );
    }

    #[test]
    fn padding_and_alignment() {
        assert_eq!(align(0, 8), 0);
        assert_eq!(align(28, 8), 32);
        assert_eq!(align(5, NETLINK_ALIGN), 8);
        assert_eq!(align(usize::MAX, 8), usize::MAX);
        let mut v = vec![0xff];
        let mut w = Writer::new(&mut v);
        w.u8(1).align_from(0, 8);
        assert_eq!(w.position(), 8);
        w.be_u16(0x0102).pad_to(8, 4);
        assert_eq!(v, [0xff, 1, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0]);
    }

    #[test]
    fn attributes_are_padded_and_walked() {
        let mut v = Vec::new();
        Writer::new(&mut v)
            .attribute(5, |w| {
                w.bytes(b"abcde");
            })
            .attribute(0x8000 | 7, |w| {
                w.ne_u32(9);
            });
        assert_eq!(v.len(), 12 + 8);
        assert_eq!(u16::from_ne_bytes([v[0], v[1]]), 9);
        let found: Vec<_> = attributes(&v).collect();
        assert_eq!(found.len(), 2);
        let first = found[0].unwrap();
        assert_eq!(
            (first.kind, first.value, first.whole.len()),
            (5, &b"abcde"[..], 12)
        );
        let second = found[1].unwrap();
        assert_eq!(second.kind, 7, "flag bits masked");
        // a bad length ends the walk with one error
        v.extend_from_slice(&[0xff, 0xff, 1, 0]);
        let found: Vec<_> = attributes(&v).collect();
        assert_eq!(found.len(), 3);
        assert_eq!(
            found[2],
            Err(BadAttribute {
                len: 0xffff,
                have: 4
            })
        );
        v.truncate(20);
        v.extend_from_slice(&[2, 0, 1, 0]);
        assert!(attributes(&v).nth(2).unwrap().is_err(), "below the header");
        // a short tail is padding
        v.truncate(20);
        v.extend_from_slice(&[0, 0]);
        assert_eq!(attributes(&v).count(), 2);
    }

    #[test]
    fn writes_into_bytes_mut_too() {
        let mut b = BytesMut::new();
        Writer::new(&mut b).ne_u64(7).be_u32(1).zeros(2);
        assert_eq!(&b[8..14], &[0, 0, 0, 1, 0, 0]);
        Writer::new(&mut b).patch_ne_u16(100, 1);
        assert_eq!(b.len(), 14, "out-of-range patches are ignored");
    }

    proptest! {
        #[test]
        fn fields_round_trip(a: u8, b: u16, c: u32, d: u64, e: u16, f: u32, g: i32) {
            let mut v = Vec::new();
            Writer::new(&mut v).u8(a).ne_u16(b).ne_u32(c).ne_u64(d).be_u16(e).be_u32(f).ne_i32(g);
            let r = Reader::new_checked(&v, 25).unwrap();
            prop_assert_eq!(r.u8(0), a);
            prop_assert_eq!(r.ne_u16(1), b);
            prop_assert_eq!(r.ne_u32(3), c);
            prop_assert_eq!(r.ne_u64(7), d);
            prop_assert_eq!(r.be_u16(15), e);
            prop_assert_eq!(r.be_u32(17), f);
            prop_assert_eq!(r.ne_i32(21), g);
        }

        #[test]
        fn attributes_round_trip(values in proptest::collection::vec(
            (0u16..0x4000, proptest::collection::vec(any::<u8>(), 0..40)), 0..8)) {
            let mut v = Vec::new();
            for (kind, value) in &values {
                Writer::new(&mut v).attribute(*kind, |w| { w.bytes(value); });
            }
            prop_assert_eq!(v.len() % NETLINK_ALIGN, 0);
            let back: Vec<(u16, Vec<u8>)> = attributes(&v)
                .map(|a| a.map(|a| (a.kind, a.value.to_vec())))
                .collect::<Result<_, _>>()
                .unwrap();
            prop_assert_eq!(back, values);
        }

        #[test]
        fn attribute_walk_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut total = 0;
            for a in attributes(&bytes) {
                match a {
                    Ok(a) => total += a.whole.len(),
                    Err(e) => prop_assert!(e.len < NLA_HDRLEN || e.len > e.have),
                }
            }
            prop_assert!(total <= bytes.len());
        }
    }
}
