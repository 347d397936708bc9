//! Generated bindings for the `kubewasm:client` WIT package.
//!
//! Only `bindgen!` lives here; the host side of each interface is implemented in
//! [`crate::api`] and [`crate::credentials`]. `wasi:io` maps to wasmtime-wasi's own
//! types so a response body is an ordinary `wasi:io/streams.input-stream`.

#![allow(missing_docs, reason = "bindgen-generated code")]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "kubewasm:client/client",
    imports: {
        "kubewasm:client/api.send": async | trappable,
        default: trappable,
    },
    with: {
        "wasi:io": wasmtime_wasi::p2::bindings::io,
    },
    require_store_data_send: true,
});

pub use kubewasm::client::{api, credentials};
