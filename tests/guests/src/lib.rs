//! Bindings shared by the misbehaving test guests.

#![allow(missing_docs, reason = "bindgen-generated code")]

wit_bindgen::generate!({
    path: "../../wit",
    world: "kubewasm:client/client",
    with: {
        "wasi:io/error@0.2.12": wasip2::io::error,
        "wasi:io/poll@0.2.12": wasip2::io::poll,
        "wasi:io/streams@0.2.12": wasip2::io::streams,
    },
});
