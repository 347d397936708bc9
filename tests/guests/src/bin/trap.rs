//! A guest that traps: the host must print one clear line and exit non-zero.
fn main() {
    core::arch::wasm32::unreachable();
}
