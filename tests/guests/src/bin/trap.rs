//! A guest that traps: the host must print one clear line and exit non-zero.
fn main() {
    #[cfg(target_arch = "wasm32")]
    core::arch::wasm32::unreachable();
    #[cfg(not(target_arch = "wasm32"))]
    unreachable!("this guest only runs as wasm");
}
