//! Generated bindings for the `kubewasm:client/client` world.
//!
//! `wasi:io` types map to the `wasip2` crate's, so a response body is an ordinary
//! `wasip2::io::streams::InputStream`.

wit_bindgen::generate!({
    path: "../wit",
    world: "kubewasm:client/client",
    with: {
        "wasi:io/error@0.2.12": wasip2::io::error,
        "wasi:io/poll@0.2.12": wasip2::io::poll,
        "wasi:io/streams@0.2.12": wasip2::io::streams,
    },
});
