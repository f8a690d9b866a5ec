//! PF_KEY over XFRM netlink: a [`Kernel`](crate::pfkey::Kernel) for kernels
//! built without PF_KEY.
//!
//! [`XfrmKernel`] accepts the PF_KEY requests rsetkey builds and answers
//! with the PF_KEY messages Linux's `af_key` would build from the same
//! kernel state: requests are converted the way af_key converts them into
//! kernel SAs and policies, the kernel is driven through NETLINK_XFRM, and
//! what XFRM reports is converted back the way af_key converts kernel
//! objects into messages. Everything above the [`Kernel`](crate::pfkey::Kernel) trait (executor,
//! command line, dump printer) is unchanged, so `-D` / `-DP` print the same
//! through both interfaces for the same kernel state.
//!
//! Layers: [`netlink`] (framing), [`wire`] (XFRM structures),
//! [`algorithms`] (af_key's algorithm table), [`translate`] (the pure
//! conversions), [`socket`] (the netlink socket) and [`kernel`];
//! [`monitor`] is `-x` over XFRM.
//!
//! # Derived values
//!
//! Where a value exists on one side only, it is derived as the PF_KEY path
//! would show it:
//!
//! * **Supported algorithms (REGISTER).** af_key lists the rows of its table
//!   whose crypto implementation the kernel has (it probes the crypto API).
//!   `/proc/crypto` cannot answer that (templates such as `hmac(md5)` appear
//!   there only once instantiated), so each row is probed through XFRM: an
//!   AH (ESP) SA naming the algorithm is sent with a selector family that
//!   transport mode cannot accommodate; the kernel looks the algorithm up
//!   by name with the same crypto API call — ENOSYS when it has none — and
//!   only then refuses the SA, before inserting anything. Rows answered
//!   with ENOSYS are left out. The lookup also marks the row available in
//!   the kernel's table, as af_key's probe does. The probes are
//!   independent, so all rows go out in one batch ([`socket`]): one
//!   `sendmsg` and one `recvmmsg` for about twenty rows.
//! * **ICV truncation.** SAs are created with `XFRMA_ALG_AUTH_TRUNC` and
//!   af_key's truncation (96 bits for MD5, SHA-1, SHA-256, RIPEMD-160,
//!   XCBC, SM3; 192 / 256 for SHA-384 / SHA-512).
//! * **SA state.** XFRM does not report it. An SA without any algorithm is
//!   larval (only acquire / GETSPI states lack them); one past a soft limit
//!   (bytes, packets, add or use time, from its lifetimes) is dying;
//!   otherwise mature. DELETE answers with the SA fetched just before the
//!   deletion, marked dead, as af_key's notification shows it.
//! * **SA selector / proxy address.** Like af_key, an SA's selector is all
//!   zero except its family (or the proxy address, when the request has
//!   one), so such SAs dump with the 0.0.0.0/0 proxy extension; larval SAs
//!   have their addresses in the selector and none.
//! * **Replay window** min(requested, 32); with ESN the ESN window capped
//!   at 255. **Mode** any → transport. **Flags**: only NOECN, DECAP_DSCP,
//!   NOPMTUDISC cross over. **Lifetimes**: PF_KEY 0 = XFRM "infinite" for
//!   byte and packet limits, both ways.
//! * **sadb_x_sa2 sequence** is 0, as af_key sends it; `km.seq` is the
//!   request's `sadb_msg_seq`.
//! * **NAT-T**: type and ports go to `xfrm_encap_tmpl`; the original
//!   address extension is ignored (af_key ignores it too) and never sent.
//! * **Security contexts** cross unchanged (`alg`, `doi`, bytes); the
//!   kernel's security module stores them identically for both interfaces.
//! * **Policies.** Selector ports are exact (mask 0xffff) when non-zero;
//!   protocol 255 ↔ 0; discard ↔ block; ipsec/none ↔ allow with/without
//!   templates. Template levels: `use` → optional, `unique` → the request's
//!   reqid (1..=0x3fff), otherwise generated, `default`/`require` →
//!   required (their reqid is dropped, as af_key drops it); `share` is
//!   always "any"; all algorithms allowed. `sadb_x_policy_id` = index.
//!   "All algorithms" is said differently: af_key leaves a template's
//!   algorithm masks 0 and sets a flag XFRM cannot set; through XFRM the
//!   masks are all ones. Nothing PF_KEY reports shows the masks except
//!   acquire proposals, which af_key builds from them: none for its own
//!   templates, every available algorithm for these.
//! * **Generated reqids** (`unique` without a usable reqid): af_key counts
//!   upwards from 0x4000 with a counter kept for the kernel's lifetime,
//!   skipping reqids used by installed policies. XFRM has no such counter,
//!   so it is kept per [`XfrmKernel`]: values may differ from what the
//!   same history through PF_KEY would give (dumps show `unique#N`).
//! * **Policy reference count** (`sadb_msg_reserved` of policy messages):
//!   XFRM does not report it. Dumps and SPDGET show 2 while the policy's
//!   timer holds a reference — within a second of insertion, or for as
//!   long as an expiry time is set — and 1 otherwise; SPDADD / SPDUPDATE
//!   notifications 3 (list, timer, request); SPDDELETE 1.
//! * **Dumps** walk the same kernel list as af_key's (newest first), so the
//!   order matches; entries are numbered 1…N−1 and 0. SA dumps by type
//!   keep AH, ESP and IPComp states only (not the kernel's internal IPIP
//!   states of IPComp tunnels), policy dumps main-type policies only.
//! * **GETSPI with a refused SPI range** (min > max; IPComp max ≥ 0x10000):
//!   af_key finds or creates the larval SA first and checks the range
//!   after, so the refusal (EINVAL) leaves that SA behind; xfrm_user checks
//!   first. The request is sent with the range 0..=0 instead, which the
//!   kernel finds or creates the same larval SA for and cannot allocate
//!   from: the same SA is left, EINVAL answered
//!   ([`kernel::larval_only_request`]). Two cases stay apart: when the
//!   kernel cannot create the larval SA at all, af_key answers ENOENT and
//!   this EINVAL; and GETSPI with SA type 0 (IPSEC_PROTO_ANY; setkey never
//!   sends it), which af_key answers with EINVAL after creating a larval SA
//!   of protocol 255 — XFRM refuses that protocol before any lookup, so
//!   through XFRM no SA is created.
//! * **Flushes** answer with the header copy even when the kernel refuses
//!   the flush, as af_key sends that copy before looking at the result.
//! * **Errors**: validated in af_key's order with af_key's errnos before
//!   anything is sent (e.g. ELOOP for more than 6 requests, ESRCH for an SA
//!   type it cannot look up); otherwise the kernel's errno, which both
//!   interfaces take from the same kernel functions. The kernel's extended
//!   ACK text, with a hint about missing modules, is kept in
//!   the `Kernel::detail` of the XFRM kernel.
//!
//! * **Batches** ([`Kernel::request_batch`](crate::pfkey::Kernel::request_batch)).
//!   Asked for full replies, every request goes through `request`. Asked
//!   for the outcome only ([`ReplyNeed::Status`](crate::pfkey::ReplyNeed)),
//!   ADD / UPDATE, DELETE, SPDADD / SPDUPDATE (without a generated reqid)
//!   and SPDDELETE are sent as single XFRM requests, hundreds per
//!   `sendmsg` ([`socket`] explains the windows), and a success is answered
//!   with the request's header (errno 0) instead of the notification built
//!   from the SA or policy read back: one exchange instead of two, and the
//!   errnos are the same (a missing SA or policy is refused by the deletion
//!   with the errno its lookup gives). The one difference: an SA or policy
//!   that the kernel accepts but PF_KEY cannot express (impossible for
//!   requests built from PF_KEY messages) reads as a success. Other
//!   requests in a batch are answered one by one, in order.
//! * **Dumps** are read and converted datagram by datagram while the
//!   caller takes entries, so a dump of any size needs the memory of a few
//!   datagrams.
//!
//! Not answered (EOPNOTSUPP): the key-manager messages ACQUIRE, EXPIRE,
//! X_PROMISC, X_SPDACQUIRE, X_MIGRATE, which setkey never sends except
//! X_PROMISC for `-x`. Monitoring is [`monitor`] instead: it joins the XFRM
//! multicast groups and prints each kernel event as the PF_KEY message
//! af_key would broadcast for it; what a promiscuous PF_KEY socket sees
//! besides (other processes' requests, replies to them) has no XFRM
//! counterpart.

pub mod algorithms;
pub mod kernel;
pub mod monitor;
pub mod netlink;
pub mod socket;
pub mod translate;
pub mod wire;

#[cfg(test)]
mod batch_tests;
#[cfg(test)]
mod tests;

pub use kernel::XfrmKernel;
