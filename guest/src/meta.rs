//! The parts of `meta/v1` the guest decodes: list metadata and object metadata.
//!
//! Decoding only these fields (serde skips the rest without building it) keeps large
//! lists cheap when the printer needs names, namespaces and labels, not whole objects.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

/// `ListMeta`: the metadata of a list, table or watch bookmark.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ListMeta {
    /// The resourceVersion the list was read at: where a watch starts from.
    pub resource_version: String,
    /// The token of the next page; empty on the last page.
    #[serde(rename = "continue")]
    pub continue_token: String,
    /// How many items the following pages hold, when the server knows.
    pub remaining_item_count: Option<i64>,
}

/// The `ObjectMeta` fields the printers use.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ObjectMeta {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`; empty for cluster-scoped objects.
    pub namespace: String,
    /// `metadata.resourceVersion`.
    pub resource_version: String,
    /// `metadata.labels`, sorted by key.
    #[serde(deserialize_with = "nullable")]
    pub labels: BTreeMap<String, String>,
}

/// Any object, decoded for its metadata only (a `PartialObjectMetadata`, or a full
/// object whose other fields are skipped).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct PartialObject {
    /// The object's metadata.
    pub metadata: ObjectMeta,
}

/// Decodes `null` as the default value: Go clients serialize empty slices and maps as
/// `null` (watch tables omit or null their `columnDefinitions`).
pub(crate) fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Option::unwrap_or_default)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::fixture_body;

    /// A list decoded for its items' metadata only, as the printers decode list items.
    #[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
    #[serde(default)]
    struct MetadataList {
        metadata: ListMeta,
        #[serde(deserialize_with = "nullable")]
        items: Vec<PartialObject>,
    }

    #[test]
    fn metadata_list_decodes_names_and_continue_token() {
        let list: MetadataList = serde_json::from_slice(fixture_body(include_str!(
            "../../tests/fixtures/pods-demo-limit5.http"
        )))
        .unwrap();
        assert_eq!(list.items.len(), 5);
        assert_eq!(list.items[0].metadata.name, "demo-00000");
        assert_eq!(list.items[0].metadata.namespace, "demo");
        assert!(!list.metadata.continue_token.is_empty());
        assert_eq!(list.metadata.remaining_item_count, Some(45));
    }

    #[test]
    fn null_labels_and_items_decode_as_empty() {
        let list: MetadataList =
            serde_json::from_str(r#"{"metadata":{},"items":[{"metadata":{"labels":null}}]}"#)
                .unwrap();
        assert!(list.items[0].metadata.labels.is_empty());
        let list: MetadataList = serde_json::from_str(r#"{"items":null}"#).unwrap();
        assert!(list.items.is_empty());
    }
}
