//! Tests of the items of `pfkey` itself.

use super::DumpNumbering;
use super::SocketError;

#[test]
fn dump_numbering_accepts_af_keys_order() {
    let mut n = DumpNumbering::default();
    for seq in [1, 2, 3, 0] {
        assert!(n.check(seq).is_ok(), "{seq}");
    }
    // a dump of one entry is just 0
    assert!(DumpNumbering::default().check(0).is_ok());
}

#[test]
fn dump_numbering_catches_dropped_entries() {
    let mut n = DumpNumbering::default();
    assert!(n.check(1).is_ok());
    assert!(n.check(2).is_ok());
    match n.check(5) {
        Err(
            e @ SocketError::Incomplete {
                expected: 3,
                got: 5,
            },
        ) => {
            assert_eq!(e.to_string(), "dump incomplete: entries 3 to 4 missing");
            assert!(e.setkey_text().contains("try again"));
        }
        other => panic!("{other:?}"),
    }
}
