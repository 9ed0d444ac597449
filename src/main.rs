fn main() -> std::process::ExitCode {
    weblock::cli::main()
}
