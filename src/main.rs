#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    folio::cli::main()
}
