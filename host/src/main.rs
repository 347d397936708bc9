//! `host`: runs kubewasm guests. See `host --help`.

fn main() {
    let code = kubewasm_host::cli::main();
    std::process::exit(code);
}
