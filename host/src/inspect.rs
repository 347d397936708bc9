//! What a guest component asks for, read from its bytes without running or compiling it:
//! the interfaces it imports and exports, and the RBAC rules it declares it needs.
//!
//! A guest declares its rules in a custom section named [`POLICY_SECTION`] holding Role or
//! ClusterRole YAML (Rust: a `#[link_section = "kubewasm-policy"]` static; other
//! toolchains have equivalents). The host never trusts the declaration — the operator's
//! `--policy` decides — but an operator can read it, check it, and reuse it.

use anyhow::Context;
use wasmparser::{Parser, Payload};

/// The name of the custom section holding a guest's declared RBAC rules.
pub const POLICY_SECTION: &str = "kubewasm-policy";

/// What [`inspect`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inspection {
    /// The component's imports (`kubewasm:client/api@0.1.0`, `wasi:cli/stdout@0.2.x`, ...).
    pub imports: Vec<String>,
    /// The component's exports (`wasi:cli/run@0.2.x` for a script).
    pub exports: Vec<String>,
    /// The declared policy YAML, if the guest carries a [`POLICY_SECTION`] section.
    pub declared_policy: Option<String>,
}

/// Reads the top-level imports and exports of a component and its declared policy.
pub fn inspect(wasm: &[u8]) -> anyhow::Result<Inspection> {
    let mut found = Inspection::default();
    let mut depth = 0usize;
    let mut is_component = false;
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.context("the file is not a valid WebAssembly binary")?;
        match payload {
            Payload::Version { encoding, .. } if depth == 0 => {
                is_component = matches!(encoding, wasmparser::Encoding::Component);
            }
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(reader) if depth == 0 => {
                for import in reader {
                    found.imports.push(import?.name.name.to_string());
                }
            }
            Payload::ComponentExportSection(reader) if depth == 0 => {
                for export in reader {
                    found.exports.push(export?.name.name.to_string());
                }
            }
            // Declared rules may sit in the component or in a core module inside it
            // (where a Rust `#[link_section]` ends up).
            Payload::CustomSection(section) if section.name() == POLICY_SECTION => {
                let text = String::from_utf8_lossy(section.data()).into_owned();
                let declared = found.declared_policy.get_or_insert_with(String::new);
                if !declared.is_empty() {
                    declared.push_str("\n---\n");
                }
                declared.push_str(text.trim_end_matches('\0'));
            }
            _ => {}
        }
    }
    if !is_component {
        anyhow::bail!(
            "this is a core WebAssembly module, not a component; build the guest for wasm32-wasip2 (or wrap it with `wasm-tools component new`)"
        );
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_core_modules_with_a_hint() {
        // The smallest core module: magic and version 1.
        let err = inspect(b"\0asm\x01\0\0\0").unwrap_err();
        assert!(err.to_string().contains("wasm32-wasip2"), "{err}");
    }

    #[test]
    fn rejects_garbage() {
        assert!(inspect(b"not wasm").is_err());
    }
}
