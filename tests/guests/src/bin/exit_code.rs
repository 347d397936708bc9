//! A guest that exits with the code given as its first argument (default 3), after
//! writing a line: the host must make it the process's exit code.
use std::io::Write;

fn main() {
    let code: u8 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "exiting with {code}");
    let _ = out.flush();
    wasip2::cli::exit::exit_with_code(code);
}
