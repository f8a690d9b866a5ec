//! PF_KEY v2 messages: typed views over bytes and plain representations.
