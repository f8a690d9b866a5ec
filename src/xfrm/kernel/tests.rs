//! The batch framing of policy operations from the IR against the framing
//! of their PF_KEY messages.

use super::*;
use crate::xfrm::tests::policy_requests;

/// What framing gave: nothing (the request goes on its own), the bytes
/// framed, or af_key's errno.
fn outcome(framed: Res<bool>, frames: &Frames) -> Result<Option<Vec<u8>>, i32> {
    match framed {
        Ok(true) => Ok(Some(frames.as_bytes().to_vec())),
        Ok(false) => Ok(None),
        Err(Fail::Errno(e)) => Err(e),
        Err(Fail::Socket(e)) => panic!("no socket here: {e}"),
    }
}

/// Every policy of the corpus, the grammar's examples and the odd ones
/// the parser would not build, added, updated and deleted: the requests
/// framed from the IR are byte for byte those framed from the messages
/// (the path every policy took before), the refusals the same errnos.
#[test]
fn policies_framed_from_the_ir_are_those_of_their_messages() {
    let header = Header {
        pid: 4242,
        ..Header::default()
    };
    let mut framed = 0;
    for p in policy_requests() {
        for kind in [
            PolicyMessage::Add,
            PolicyMessage::Update,
            PolicyMessage::Delete,
        ] {
            // Framed after another request, as in a batch.
            let mut via_message = Frames::default();
            let mut via_ir = Frames::default();
            for frames in [&mut via_message, &mut via_ir] {
                frames.push_keyless(msg::DELSA, 4, |out| out.extend_from_slice(&[1; 4]));
            }
            let m = request::policy(header, kind, &p);
            let a = outcome(frame(&m, &mut via_message), &via_message);
            let b = outcome(frame_policy(kind, &p, &mut via_ir), &via_ir);
            assert_eq!(a, b, "{kind:?} {p:?}");
            assert_eq!(via_message.len(), via_ir.len());
            framed += usize::from(matches!(b, Ok(Some(_))));
        }
    }
    assert!(framed > 100, "only {framed} framed");
}
