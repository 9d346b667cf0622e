//! Test-harness support for Hearth's scenario tests: pieces that several test files share and
//! that are too big for a `tests/common` helper: a fault-injecting TCP proxy ([`proxy`]) that
//! puts a slow, patchy mobile link between a device and the relay, and sync-capable devices
//! ([`devices`]).

pub mod devices;
pub mod proxy;
