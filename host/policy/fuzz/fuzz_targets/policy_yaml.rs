//! Arbitrary text as a `--policy` file: load errors are fine, panics are not.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kubewasm_policy::fuzzing::policy_yaml(data));
