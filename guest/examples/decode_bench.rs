//! How fast the guest decodes a list, natively and as WebAssembly, on the same bytes.
//!
//! ```text
//! cargo run --release -p kubewasm-guest --example decode_bench -- LIST.json [ROUNDS]
//! cargo build --release -p kubewasm-guest --example decode_bench --target wasm32-wasip2
//! host run --dir DIR --max-memory 2Gi \
//!     target/wasm32-wasip2/release/examples/decode_bench.wasm DIR/LIST.json [ROUNDS]
//! ```
//!
//! Prints one line per case with the best of ROUNDS (default 5) in ms and MB/s of JSON:
//! - `serde_json Value, whole body`: plain `serde_json::from_slice::<Value>` (the
//!   reference: what a client that reads the body whole does);
//! - `stream items as Value` (`-o json`/`-o yaml` decoding: [`ListReader`] plus one
//!   `Value` per item, typed as kubectl types list items);
//! - `stream items as metadata` (`-o name` decoding);
//! - `print -o json`: decoding plus kubectl's JSON printer, to a sink.
//!
//! `benches/run.sh` runs it both ways on the bundled server's 10,000-pod list.

use std::time::{Duration, Instant};

use kubewasm_guest::client::MemoryBody;
use kubewasm_guest::liststream::{ListType, for_each_item};
use kubewasm_guest::meta::PartialObject;
use kubewasm_guest::output::{ListPrinter, add_item_type};
use serde_json::Value;

/// The host's read size: the body reaches the guest in chunks like these.
const CHUNK: usize = 64 * 1024;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: decode_bench LIST.json [ROUNDS]");
        std::process::exit(2);
    };
    let rounds: usize = args
        .next()
        .map_or(5, |r| r.parse().expect("ROUNDS is a number"));
    let body = std::fs::read(&path).unwrap_or_else(|e| {
        eprintln!("decode_bench: reading {path}: {e}");
        std::process::exit(1);
    });
    let target = if cfg!(target_family = "wasm") {
        "wasm32-wasip2"
    } else {
        "native"
    };
    println!("{target}: {} bytes, best of {rounds}", body.len());

    let items = stream::<Value>(&body, |_, _| {});
    println!("{items} items");

    report("skim items (IgnoredAny)", &body, rounds, || {
        let mut chunks = MemoryBody::new(body.chunks(CHUNK).map(<[u8]>::to_vec));
        let mut reader = kubewasm_guest::liststream::ListReader::new(&mut chunks, "items");
        while reader
            .next_item::<serde::de::IgnoredAny>()
            .unwrap()
            .is_some()
        {}
    });
    report("serde_json Value, whole body", &body, rounds, || {
        serde_json::from_slice::<Value>(&body).map(drop).unwrap();
    });
    report("stream items as Value", &body, rounds, || {
        stream(&body, |mut item: Value, list| {
            add_item_type(&mut item, list.api_version.as_deref(), list.kind.as_deref());
        });
    });
    report("stream items as metadata", &body, rounds, || {
        stream(&body, |_: PartialObject, _| {});
    });
    report("print -o json", &body, rounds, || {
        let mut printer = ListPrinter::new(false);
        let mut sink = std::io::sink();
        stream(&body, |mut item: Value, list| {
            add_item_type(&mut item, list.api_version.as_deref(), list.kind.as_deref());
            printer.item(&item, &mut sink).unwrap();
        });
        printer.finish(&mut sink).unwrap();
    });
}

/// Reads `body` as the guest does (in host-sized chunks), handing each item to `each`.
/// Returns the number of items.
fn stream<T: serde::de::DeserializeOwned>(
    body: &[u8],
    mut each: impl FnMut(T, &ListType),
) -> usize {
    let mut chunks = MemoryBody::new(body.chunks(CHUNK).map(<[u8]>::to_vec));
    let mut n = 0;
    for_each_item(&mut chunks, "items", |item: T, list| {
        each(item, list);
        n += 1;
        Ok::<(), ()>(())
    })
    .expect("the list is well-formed");
    n
}

fn report(case: &str, body: &[u8], rounds: usize, mut run: impl FnMut()) {
    let mut best = Duration::MAX;
    for _ in 0..rounds {
        let start = Instant::now();
        run();
        best = best.min(start.elapsed());
    }
    let mb = body.len() as f64 / 1e6;
    println!(
        "{case:<30} {:>8.1} ms {:>8.1} MB/s",
        best.as_secs_f64() * 1e3,
        mb / best.as_secs_f64()
    );
}
