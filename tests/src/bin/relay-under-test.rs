//! The `hearth-relay` server, for the scenario tests that run it as a separate process (and
//! kill it with SIGKILL); identical to the shipped binary.
fn main() {
    hearth_relay::main()
}
