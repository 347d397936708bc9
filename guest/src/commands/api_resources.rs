//! `api-resources`: the resource types the server serves, as kubectl prints them.

use std::io::Write;

use super::Types;
use crate::cli::{ApiResourcesArgs, ApiResourcesOutput, ApiResourcesSort};
use crate::client::Transport;
use crate::discovery::{DiscoveredResource, Discovery};
use crate::error::Error;
use crate::resource::BuiltinResources;
use crate::table;

pub(super) fn run(
    args: &ApiResourcesArgs,
    transport: &mut dyn Transport,
    types: &mut Types<'_>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), Error> {
    let builtin;
    let discovery = match types {
        Types::Discover(d) => match d.everything(transport, err)? {
            Some(discovery) => discovery,
            None => {
                builtin = builtin_discovery();
                &builtin
            }
        },
        Types::Fixed(_) => {
            builtin = builtin_discovery();
            &builtin
        }
    };
    out.write_all(render(discovery, args).as_bytes())?;
    Ok(())
}

/// The built-in types, when the server's discovery is not available.
fn builtin_discovery() -> Discovery {
    let mut d = Discovery::default();
    for resource in BuiltinResources::all() {
        d.group_versions.push(crate::discovery::GroupVersion {
            group: resource.group.clone(),
            version: resource.version.clone(),
            preferred: true,
            resources: vec![DiscoveredResource {
                resource,
                verbs: Vec::new(),
                categories: Vec::new(),
            }],
        });
    }
    d
}

/// kubectl's `api-resources` output: the preferred version of each resource, filtered
/// by the flags, sorted by group then name (or by `--sort-by`), as a kubectl table.
pub fn render(discovery: &Discovery, args: &ApiResourcesArgs) -> String {
    let mut rows: Vec<&DiscoveredResource> = discovery
        .preferred_resources()
        .into_iter()
        .filter(|r| {
            let t = &r.resource;
            args.api_group.as_ref().is_none_or(|g| *g == t.group)
                && args.namespaced.is_none_or(|n| n == t.namespaced)
                && args.verbs.iter().all(|v| r.verbs.contains(v))
        })
        .collect();
    // A stable sort by the key, ties by name: kubectl's `sortableResource`.
    rows.sort_by(|a, b| {
        let (a, b) = (&a.resource, &b.resource);
        let key = match args.sort_by {
            None => a.group.cmp(&b.group),
            Some(ApiResourcesSort::Name) => a.plural.cmp(&b.plural),
            Some(ApiResourcesSort::Kind) => a.kind.cmp(&b.kind),
        };
        key.then_with(|| a.plural.cmp(&b.plural))
    });
    if args.output == Some(ApiResourcesOutput::Name) {
        return rows
            .iter()
            .map(|r| format!("{}\n", r.resource.group_resource()))
            .collect();
    }
    let wide = args.output == Some(ApiResourcesOutput::Wide);
    let mut text = String::new();
    if !args.no_headers {
        text.push_str("NAME\tSHORTNAMES\tAPIVERSION\tNAMESPACED\tKIND");
        if wide {
            text.push_str("\tVERBS\tCATEGORIES");
        }
        text.push('\n');
    }
    for r in rows {
        let t = &r.resource;
        text.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}",
            t.plural,
            t.short_names.join(","),
            t.api_version(),
            t.namespaced,
            t.kind
        ));
        if wide {
            let mut verbs = r.verbs.clone();
            verbs.sort();
            text.push_str(&format!(
                "\t{}\t{}",
                verbs.join(","),
                r.categories.join(",")
            ));
        }
        text.push('\n');
    }
    table::align(&text)
}

#[cfg(test)]
mod tests {
    use crate::testutil::{FakeTransport, run_with};

    #[test]
    fn api_resources_prints_kubectls_columns_sorted_by_group_then_name() {
        let mut t = FakeTransport::new();
        let (code, out, err) = run_with(&["api-resources"], &mut t);
        assert_eq!((code, err.as_str()), (0, ""));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "NAME                                SHORTNAMES   APIVERSION                        NAMESPACED   KIND"
        );
        assert_eq!(
            lines[1],
            "bindings                                         v1                                true         Binding"
        );
        assert_eq!(
            lines[2],
            "componentstatuses                   cs           v1                                false        ComponentStatus"
        );
        // Core first, then groups alphabetically, names alphabetically within each.
        let groups: Vec<&str> = lines[1..]
            .iter()
            .map(|l| l.split_whitespace().rev().nth(2).unwrap_or_default())
            .collect();
        let mut sorted = groups.clone();
        sorted.sort_by_key(|gv| {
            if gv.contains('/') {
                gv.split('/').next().unwrap_or_default().to_string()
            } else {
                String::new()
            }
        });
        assert_eq!(groups, sorted);
        assert!(out.contains("\ndeployments                         deploy       apps/v1                           true         Deployment\n"));
        assert!(out.contains("\nhorizontalpodautoscalers            hpa          autoscaling/v2                    true         HorizontalPodAutoscaler\n"));
        assert!(!out.contains("autoscaling/v1"), "only preferred versions");
        assert!(!out.contains("pods/"), "no subresources");
        assert_eq!(t.discovery.len(), 2);
    }

    #[test]
    fn api_resources_filters_and_other_outputs() {
        let mut t = FakeTransport::new();
        let (_, out, _) = run_with(
            &[
                "api-resources",
                "--api-group",
                "apps",
                "-o",
                "name",
                "--namespaced=true",
            ],
            &mut t,
        );
        assert_eq!(
            out,
            "controllerrevisions.apps\ndaemonsets.apps\ndeployments.apps\nreplicasets.apps\nstatefulsets.apps\n"
        );
        let (_, out, _) = run_with(
            &[
                "api-resources",
                "--namespaced=false",
                "--api-group=",
                "--no-headers",
                "-o",
                "wide",
            ],
            &mut t,
        );
        let first = out.lines().next().unwrap_or_default();
        assert_eq!(
            first.split_whitespace().collect::<Vec<_>>(),
            [
                "componentstatuses",
                "cs",
                "v1",
                "false",
                "ComponentStatus",
                "get,list"
            ]
        );
        let (_, out, _) = run_with(
            &[
                "api-resources",
                "--verbs=create",
                "--sort-by=kind",
                "--api-group=",
            ],
            &mut t,
        );
        assert!(
            out.lines()
                .nth(1)
                .unwrap_or_default()
                .starts_with("bindings "),
            "{out}"
        );
        let (code, _, err) = run_with(&["api-resources", "-o", "json"], &mut t);
        assert_eq!(
            (code, err.as_str()),
            (1, "error: --output json is not available\n")
        );
    }
}
