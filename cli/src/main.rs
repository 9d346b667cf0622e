fn main() -> std::process::ExitCode {
    hearth_cli::main()
}
