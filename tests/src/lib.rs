//! Test-harness support for Hearth's scenario tests: pieces that several test files share and
//! that are too big for a `tests/common` helper, starting with a fault-injecting TCP proxy
//! ([`proxy`]) that puts a slow, patchy mobile link between a client device and the relay.

pub mod proxy;
