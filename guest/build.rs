//! Link settings for the built-in guest (`guest.wasm`).

/// The guest's initial linear memory: 1 MiB of stack, its data, and a first heap.
///
/// wasm-ld makes the initial memory just large enough for the stack and the data, so
/// the allocator's first allocations grow the memory a 64 KiB page at a time: two or
/// three `memory.grow`s for a `version` or a `get --raw`, each an `mprotect` in the
/// host, and one more for the pooling allocator to shrink the slot back for the next
/// instance. wasi-libc's allocator takes the space between the data and the end of the
/// initial memory first, so a 2 MiB start (about 900 KiB of heap) leaves small commands
/// with no growth at all. Pages that are never touched cost nothing; the host's limit on
/// a guest's memory is unchanged (BENCHMARKS.md, embedding).
const INITIAL_MEMORY: u64 = 2 << 20;

fn main() {
    if std::env::var("CARGO_CFG_TARGET_FAMILY").is_ok_and(|family| family.contains("wasm")) {
        println!("cargo:rustc-link-arg-bins=--initial-memory={INITIAL_MEMORY}");
    }
}
