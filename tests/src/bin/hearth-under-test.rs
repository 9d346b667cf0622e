//! The `hearth` command line, for the scenario tests (identical to the shipped binary).
fn main() -> std::process::ExitCode {
    hearth_cli::main()
}
