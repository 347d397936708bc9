//! End-to-end tests: the real `host` binary runs the real guest against a fake
//! kube-apiserver that replays recorded v1.36 responses. Nothing leaves 127.0.0.1.

mod connect;
mod guest_lifecycle;
mod harness;
mod kubectl;
mod mcp;
mod operator;
mod output;
mod polyglot;
mod rust_guest;
mod sandbox;
mod scripts;
mod streams;
mod wasi_http;
