//! Arbitrary method + path-and-query through the sanity checks, RequestInfo and the RBAC
//! matcher under three policies; a denial's suggested rule must allow the request.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kubewasm_policy::fuzzing::request(data));
