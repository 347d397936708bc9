//! `get`: list or get objects and print them as kubectl does; `-w` then watches.

use std::io::Write;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Context, Types, fetch, fetch_items, finish};
use crate::cli::GetArgs;
use crate::client::Transport;
use crate::error::Error;
use crate::golang;
use crate::liststream::ListType;
use crate::meta::PartialObject;
use crate::output::{self, ListPrinter, OutputFormat};
use crate::request::{Format, ListParams, Method, Request, ResourceUrl};
use crate::resource::ResourceType;
use crate::status::RequestContext;
use crate::table::{PrintOptions, Table, TableColumn, TablePrinter};
use crate::watch::EventType;
use crate::watcher::{Item, WatchSink, Watcher};

use crate::watcher::CHUNK_SIZE;

/// One resource type and the names asked for (none: the whole collection).
#[derive(Debug, Clone)]
struct Target {
    resource: ResourceType,
    names: Vec<String>,
}

/// A validated `get`.
#[derive(Debug)]
struct Plan {
    targets: Vec<Target>,
    /// `None` for `-A`.
    namespace: Option<String>,
    label_selector: Option<String>,
    field_selector: Option<String>,
    output: OutputFormat,
    watch: bool,
    /// `--watch-only`: do not print the list.
    watch_only: bool,
    /// `--output-watch-events`: print each change's event type.
    output_watch_events: bool,
    no_headers: bool,
    show_labels: bool,
    /// Page size of lists (`--chunk-size`); 0: no paging.
    chunk_size: u32,
    /// One object named: print it, not a `List` (kubectl's `singleItemImplied`).
    single_item: bool,
    /// Several kinds: prefix names with `kind/` in tables.
    several_kinds: bool,
}

impl Plan {
    fn new(
        args: &GetArgs,
        context: &Context,
        resolve: &mut dyn FnMut(&str) -> Result<ResourceType, Error>,
    ) -> Result<Plan, Error> {
        let Some(first) = args.args.first() else {
            return Err(Error::Invalid(
                "Required resource not specified. Name a resource type: kubewasm get TYPE [NAME...]"
                    .into(),
            ));
        };
        let mut targets: Vec<Target> = Vec::new();
        let single_item = if first.contains('/') {
            for arg in &args.args {
                let (kind, name) = arg
                    .split_once('/')
                    .filter(|(kind, name)| {
                        !kind.is_empty() && !name.is_empty() && !name.contains('/')
                    })
                    .ok_or_else(|| {
                        Error::Invalid(
                            "arguments in resource/name form must have a single resource and name"
                                .into(),
                        )
                    })?;
                let resource = resolve(kind)?;
                match targets.last_mut() {
                    Some(last) if last.resource == resource => last.names.push(name.into()),
                    _ => targets.push(Target {
                        resource,
                        names: vec![name.into()],
                    }),
                }
            }
            args.args.len() == 1
        } else {
            let names: Vec<String> = args.args[1..].to_vec();
            if names.iter().any(|n| n.contains('/')) {
                return Err(Error::Invalid(
                    "there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'kubewasm get resource/<resource_name>' instead of 'kubewasm get resource resource/<resource_name>')".into(),
                ));
            }
            for kind in first.split(',') {
                targets.push(Target {
                    resource: resolve(kind)?,
                    names: names.clone(),
                });
            }
            targets.len() == 1 && names.len() == 1
        };
        let named = targets.iter().any(|t| !t.names.is_empty());
        if named && args.all_namespaces {
            return Err(Error::Invalid(
                "a resource cannot be retrieved by name across all namespaces".into(),
            ));
        }
        if named && (args.label_selector.is_some() || args.field_selector.is_some()) {
            return Err(Error::Invalid(
                "name cannot be provided when a selector is specified".into(),
            ));
        }
        let mut kinds: Vec<(&str, &str)> = targets
            .iter()
            .map(|t| (t.resource.group.as_str(), t.resource.kind.as_str()))
            .collect();
        kinds.dedup();
        let several_kinds = kinds.len() > 1;
        if args.watch || args.watch_only {
            if several_kinds {
                return Err(Error::Invalid(
                    "you may only specify a single resource type".into(),
                ));
            }
            let count: usize = targets.iter().map(|t| t.names.len()).sum();
            if count > 1 {
                return Err(Error::Invalid(format!(
                    "watch is only supported on individual resources and resource collections, but {count} resources were found"
                )));
            }
        }
        let namespace = if args.all_namespaces {
            None
        } else {
            Some(
                args.namespace
                    .clone()
                    .filter(|ns| !ns.is_empty())
                    .unwrap_or_else(|| context.namespace.clone()),
            )
        };
        Ok(Plan {
            targets,
            namespace,
            label_selector: args.label_selector.clone(),
            field_selector: args.field_selector.clone(),
            chunk_size: args.chunk_size.unwrap_or(CHUNK_SIZE),
            output: args.output,
            watch: args.watch || args.watch_only,
            watch_only: args.watch_only,
            output_watch_events: args.output_watch_events,
            no_headers: args.no_headers,
            show_labels: args.show_labels,
            single_item,
            several_kinds,
        })
    }

    fn print_options(&self, resource: &ResourceType) -> PrintOptions {
        PrintOptions {
            wide: self.output == OutputFormat::Wide,
            // kubectl adds NAMESPACE for -A, but never to cluster-scoped types.
            with_namespace: self.namespace.is_none() && resource.namespaced,
            show_labels: self.show_labels,
            no_headers: self.no_headers,
            kind_prefix: self.several_kinds.then(|| resource.kind_prefix()),
        }
    }

    fn list_params(&self) -> ListParams {
        ListParams {
            label_selector: self.label_selector.clone(),
            field_selector: self.field_selector.clone(),
            limit: (self.chunk_size > 0).then_some(self.chunk_size),
            ..Default::default()
        }
    }

    fn url(&self, resource: &ResourceType) -> Result<ResourceUrl, Error> {
        Ok(ResourceUrl::new(resource, self.namespace.as_deref())?)
    }

    /// kubectl's "No resources found" line, on stderr when nothing was printed.
    fn no_resources_message(&self) -> String {
        match &self.namespace {
            Some(ns) if self.targets.iter().all(|t| t.resource.namespaced) => {
                format!("No resources found in {ns} namespace.\n")
            }
            _ => "No resources found\n".to_string(),
        }
    }
}

pub(super) fn run(
    args: &GetArgs,
    context: &Context,
    transport: &mut dyn Transport,
    types: &mut Types<'_>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), Error> {
    let plan = Plan::new(args, context, &mut |name| {
        types.resolve(transport, err, name)
    })?;
    if plan.watch {
        return watch(&plan, transport, out);
    }
    match plan.output {
        OutputFormat::Table | OutputFormat::Wide => print_tables(&plan, transport, out, err),
        OutputFormat::Json | OutputFormat::Yaml | OutputFormat::JsonPath(_) => {
            print_objects(&plan, transport, out)
        }
        OutputFormat::Name => print_names(&plan, transport, out),
    }
}

/// Sends one page's request and returns the page's `continue` token.
type PageFetcher<'a> =
    dyn FnMut(&mut dyn Transport, &Request, &RequestContext<'_>) -> Result<String, Error> + 'a;

/// Lists `resource` page by page (kubectl's chunking): `page` sends each page's request
/// (in `format`).
fn paginate(
    transport: &mut dyn Transport,
    plan: &Plan,
    resource: &ResourceType,
    format: Format,
    page: &mut PageFetcher<'_>,
) -> Result<(), Error> {
    let url = plan.url(resource)?;
    let group_resource = resource.group_resource();
    let context = RequestContext {
        method: Method::Get,
        resource: Some(&group_resource),
        name: None,
    };
    let mut params = plan.list_params();
    loop {
        let next = page(transport, &url.list(&params, format), &context)?;
        if next.is_empty() {
            return Ok(());
        }
        params.continue_token = Some(next);
    }
}

/// Lists `resource` as server-side Tables, handing each page to `each`: kubectl's
/// printer aligns the columns of a page.
fn for_each_page(
    transport: &mut dyn Transport,
    plan: &Plan,
    resource: &ResourceType,
    each: &mut dyn FnMut(Table) -> Result<(), Error>,
) -> Result<(), Error> {
    paginate(
        transport,
        plan,
        resource,
        Format::Table,
        &mut |transport, request, context| {
            let page: Table = fetch(transport, request, context)?;
            let next = page.metadata.continue_token.clone();
            each(page)?;
            Ok(next)
        },
    )
}

/// Lists `resource`, decoding each item as `T` as it arrives and handing it to `each`
/// with the type its list names.
fn for_each_item<T: DeserializeOwned>(
    transport: &mut dyn Transport,
    plan: &Plan,
    resource: &ResourceType,
    format: Format,
    each: &mut dyn FnMut(T, &ListType) -> Result<(), Error>,
) -> Result<(), Error> {
    paginate(
        transport,
        plan,
        resource,
        format,
        &mut |transport, request, context| fetch_items(transport, request, context, "items", each),
    )
}

/// Gets one object as `T`.
fn get_one<T: DeserializeOwned>(
    transport: &mut dyn Transport,
    plan: &Plan,
    resource: &ResourceType,
    name: &str,
    format: Format,
) -> Result<T, Error> {
    let request = plan.url(resource)?.get(name, format)?;
    let group_resource = resource.group_resource();
    let context = RequestContext {
        method: Method::Get,
        resource: Some(&group_resource),
        name: Some(name),
    };
    fetch(transport, &request, &context)
}

/// Collects server errors (kubectl keeps going after them); anything else stops.
fn keep_going(result: Result<(), Error>, errors: &mut Vec<Error>) -> Result<(), Error> {
    match result {
        Err(e @ Error::Server(_)) => {
            errors.push(e);
            Ok(())
        }
        other => other,
    }
}

fn print_tables(
    plan: &Plan,
    transport: &mut dyn Transport,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), Error> {
    let mut errors = Vec::new();
    let mut rows = 0;
    let mut rows_before_group = 0;
    for (i, target) in plan.targets.iter().enumerate() {
        // Each resource type gets its own header and column widths; kubectl separates
        // the groups with a blank line.
        if i > 0 && !plan.no_headers && rows > rows_before_group {
            out.write_all(b"\n")?;
        }
        rows_before_group = rows;
        let mut printer = TablePrinter::new(plan.print_options(&target.resource));
        let result = if target.names.is_empty() {
            for_each_page(transport, plan, &target.resource, &mut |page: Table| {
                rows += page.rows.len();
                printer.print(&page);
                Ok(())
            })
        } else {
            let mut result = Ok(());
            for name in &target.names {
                let table =
                    get_one::<Table>(transport, plan, &target.resource, name, Format::Table).map(
                        |table| {
                            rows += table.rows.len();
                            printer.print(&table);
                        },
                    );
                result = keep_going(table, &mut errors);
                if result.is_err() {
                    break;
                }
            }
            result
        };
        printer.flush(out)?;
        keep_going(result, &mut errors)?;
    }
    if rows == 0 && errors.is_empty() {
        err.write_all(plan.no_resources_message().as_bytes())?;
    }
    finish(errors)
}

fn print_objects(
    plan: &Plan,
    transport: &mut dyn Transport,
    out: &mut dyn Write,
) -> Result<(), Error> {
    // A list as JSON or YAML is printed item by item as it arrives; one object, and
    // jsonpath (whose template may look at any item), need the whole document.
    let mut sink = match plan.output {
        OutputFormat::Json | OutputFormat::Yaml if !plan.single_item => {
            Objects::Stream(ListPrinter::new(plan.output == OutputFormat::Yaml))
        }
        _ => Objects::Collect(Vec::new()),
    };
    let mut errors = Vec::new();
    let result = collect_objects(plan, transport, &mut sink, out, &mut errors);
    let document = match sink {
        Objects::Stream(printer) => {
            // Even after a failure, so that what was printed is a whole document.
            printer.finish(out)?;
            return result.and(finish(errors));
        }
        Objects::Collect(_) if result.is_err() => return result,
        Objects::Collect(mut items) if plan.single_item => match items.pop() {
            Some(object) => object,
            // The one object asked for failed: only its error is printed.
            None => return finish(errors),
        },
        Objects::Collect(items) => output::list_object(items),
    };
    write_document(&document, plan.output, 0, out)?;
    finish(errors)
}

/// Where `print_objects` puts each object.
enum Objects {
    /// Printed at once, into one `List`.
    Stream(ListPrinter),
    /// Kept for printing as one document.
    Collect(Vec<Value>),
}

impl Objects {
    fn push(&mut self, object: Value, out: &mut dyn Write) -> Result<(), Error> {
        match self {
            Objects::Stream(printer) => printer.item(&object, out).map_err(Error::Output),
            Objects::Collect(items) => {
                items.push(object);
                Ok(())
            }
        }
    }
}

fn collect_objects(
    plan: &Plan,
    transport: &mut dyn Transport,
    sink: &mut Objects,
    out: &mut dyn Write,
    errors: &mut Vec<Error>,
) -> Result<(), Error> {
    for target in &plan.targets {
        if target.names.is_empty() {
            let result = for_each_item(
                transport,
                plan,
                &target.resource,
                Format::Json,
                &mut |mut item: Value, list: &ListType| {
                    output::add_item_type(
                        &mut item,
                        list.api_version.as_deref(),
                        list.kind.as_deref(),
                    );
                    sink.push(item, out)
                },
            );
            keep_going(result, errors)?;
        } else {
            for name in &target.names {
                let object =
                    get_one::<Value>(transport, plan, &target.resource, name, Format::Json)
                        .and_then(|object| sink.push(object, out));
                keep_going(object, errors)?;
            }
        }
    }
    Ok(())
}

/// Writes one object as JSON, YAML or through a jsonpath template; YAML documents after the first are separated by
/// `---`, as kubectl's YAML printer does.
fn write_document(
    document: &Value,
    format: OutputFormat,
    index: usize,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let text = match format {
        OutputFormat::Yaml => {
            let separator = if index > 0 { "---\n" } else { "" };
            format!("{separator}{}", output::to_yaml(document))
        }
        // kubectl's `--allow-missing-template-keys` defaults to true.
        OutputFormat::JsonPath(template) => template.execute(document, true).map_err(|e| {
            let source = template.source();
            Error::Invalid(format!(
                "error executing jsonpath {}: Error executing template: {e}. Printing more information for debugging the template:\n\ttemplate was:\n\t\t{source}\n",
                golang::quote(source)
            ))
        })?,
        _ => output::to_json(document),
    };
    out.write_all(text.as_bytes())?;
    Ok(())
}

fn print_names(
    plan: &Plan,
    transport: &mut dyn Transport,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let mut errors = Vec::new();
    for target in &plan.targets {
        let resource = &target.resource;
        if target.names.is_empty() {
            let result = for_each_item(
                transport,
                plan,
                resource,
                Format::Metadata,
                &mut |item: PartialObject, _: &ListType| {
                    out.write_all(output::name_line(resource, &item.metadata.name).as_bytes())?;
                    Ok(())
                },
            );
            keep_going(result, &mut errors)?;
        } else {
            for name in &target.names {
                let object =
                    get_one::<PartialObject>(transport, plan, resource, name, Format::Metadata);
                let printed = match object {
                    Ok(object) => out
                        .write_all(output::name_line(resource, &object.metadata.name).as_bytes())
                        .map_err(Error::Output),
                    Err(e) => Err(e),
                };
                keep_going(printed, &mut errors)?;
            }
        }
    }
    finish(errors)
}

/// `get -w`: list (and print), then print each change as it happens, resuming when the
/// watch ends (see [`Watcher`]).
fn watch(plan: &Plan, transport: &mut dyn Transport, out: &mut dyn Write) -> Result<(), Error> {
    let Some(target) = plan.targets.first() else {
        return Ok(());
    };
    let format = match plan.output {
        OutputFormat::Table | OutputFormat::Wide => Format::Table,
        OutputFormat::Name => Format::Metadata,
        OutputFormat::Json | OutputFormat::Yaml | OutputFormat::JsonPath(_) => Format::Json,
    };
    let mut watcher = Watcher::new(
        plan.url(&target.resource)?,
        plan.list_params(),
        format,
        target.resource.group_resource(),
        target.names.first().cloned(),
    )?;
    let mut sink = GetSink {
        plan,
        resource: &target.resource,
        printer: TablePrinter::new(plan.print_options(&target.resource)),
        printed: 0,
        out,
    };
    watcher.run(transport, &mut sink, plan.watch_only)
}

/// Prints what a `get -w` watch reports, in the `-o` format.
struct GetSink<'a> {
    plan: &'a Plan,
    resource: &'a ResourceType,
    printer: TablePrinter,
    /// Documents printed so far, for YAML's `---` separators.
    printed: usize,
    out: &'a mut dyn Write,
}

impl WatchSink for GetSink<'_> {
    fn emit(
        &mut self,
        columns: &[TableColumn],
        changes: &[(EventType, &Item)],
        _initial: bool,
    ) -> Result<(), Error> {
        let events: Vec<&str> = if self.plan.output_watch_events {
            changes.iter().map(|(e, _)| e.as_str()).collect()
        } else {
            Vec::new()
        };
        if self.plan.output.is_table() {
            let table = Table {
                column_definitions: columns.to_vec(),
                rows: changes
                    .iter()
                    .filter_map(|(_, item)| match item {
                        Item::Row(row) => Some(row.clone()),
                        Item::Object(_) => None,
                    })
                    .collect(),
                ..Default::default()
            };
            self.printer.print_events(&table, &events);
            self.printer.flush(self.out)?;
        } else {
            for (event, item) in changes {
                let Item::Object(object) = item else { continue };
                match self.plan.output {
                    // The name is all `-o name` needs: no object tree is built.
                    OutputFormat::Name => {
                        let line = output::name_line(self.resource, &object.metadata.name);
                        self.out.write_all(line.as_bytes())?;
                    }
                    OutputFormat::Json if self.plan.output_watch_events => {
                        let text = output::watch_event_to_json(event.as_str(), &object.value()?);
                        self.out.write_all(text.as_bytes())?;
                    }
                    OutputFormat::Yaml if self.plan.output_watch_events => {
                        let document = output::watch_event_object(event.as_str(), object.value()?);
                        write_document(&document, OutputFormat::Yaml, self.printed, self.out)?;
                    }
                    format => write_document(&object.value()?, format, self.printed, self.out)?,
                }
                self.printed += 1;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Error> {
        self.out.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::client::ClientError;
    use crate::testutil::{FakeTransport, fixture, run_full, run_with};

    const PODS_TABLE: &str = include_str!("../../../tests/fixtures/pods-demo-table.http");
    const PODS_LIST: &str = include_str!("../../../tests/fixtures/pods-demo-list.http");
    const ACCEPT_TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";

    #[test]
    fn get_pods_prints_the_servers_table_like_kubectl() {
        let mut t =
            FakeTransport::new().fixture("/api/v1/namespaces/demo/pods?limit=500", PODS_TABLE);
        let (code, out, err) = run_with(&["get", "pods", "-n", "demo"], &mut t);
        assert_eq!((code, err.as_str()), (0, ""));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 51);
        assert_eq!(lines[0], "NAME         READY   STATUS    RESTARTS   AGE");
        assert_eq!(lines[50], "demo-00049   1/1     Running   1          12m");
        assert_eq!(t.requests[0].header("accept"), Some(ACCEPT_TABLE));
    }

    #[test]
    fn get_uses_the_credentials_namespace_by_default() {
        let mut t =
            FakeTransport::new().fixture("/api/v1/namespaces/default/pods?limit=500", PODS_TABLE);
        let (code, _, _) = run_with(&["get", "po"], &mut t);
        assert_eq!(code, 0);
    }

    #[test]
    fn get_wide_adds_priority_one_columns() {
        let mut t =
            FakeTransport::new().fixture("/api/v1/namespaces/demo/pods?limit=500", PODS_TABLE);
        let (_, out, _) = run_with(&["get", "pods", "-n", "demo", "-o", "wide"], &mut t);
        assert!(out.starts_with(
            "NAME         READY   STATUS    RESTARTS   AGE   IP             NODE     NOMINATED NODE   READINESS GATES\n"
        ));
    }

    #[test]
    fn get_all_namespaces_lists_without_namespace_and_prints_namespace_column() {
        let mut t = FakeTransport::new().fixture("/api/v1/pods?limit=500", PODS_TABLE);
        let (code, out, _) = run_with(&["get", "pods", "-A"], &mut t);
        assert_eq!(code, 0);
        assert!(out.starts_with("NAMESPACE   NAME         READY"), "{out}");
    }

    #[test]
    fn get_all_namespaces_of_a_cluster_scoped_type_has_no_namespace_column() {
        let mut t = FakeTransport::new().fixture(
            "/api/v1/nodes?limit=500",
            include_str!("../../../tests/fixtures/nodes-table.http"),
        );
        let (code, out, _) = run_with(&["get", "nodes", "-A"], &mut t);
        assert_eq!(code, 0);
        assert!(out.starts_with("NAME     STATUS"), "{out}");
    }

    #[test]
    fn get_follows_continue_tokens_and_aligns_all_pages() {
        let page1 = r#"{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":"5","continue":"tok+1"},"columnDefinitions":[{"name":"Name","type":"string","format":"name","priority":0},{"name":"Age","type":"string","priority":0}],"rows":[{"cells":["a","1m"]}]}"#;
        let page2 = r#"{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":"5"},"columnDefinitions":[{"name":"Name","type":"string","format":"name","priority":0},{"name":"Age","type":"string","priority":0}],"rows":[{"cells":["a-much-longer-name","2m"]}]}"#;
        let mut t = FakeTransport::new()
            .json("/api/v1/namespaces/demo/pods?limit=500", 200, page1)
            .json(
                "/api/v1/namespaces/demo/pods?continue=tok%2B1&limit=500",
                200,
                page2,
            );
        let (code, out, _) = run_with(&["get", "pods", "-n", "demo"], &mut t);
        assert_eq!(code, 0);
        assert_eq!(
            out,
            "NAME                 AGE\na                    1m\na-much-longer-name   2m\n"
        );
    }

    #[test]
    fn chunk_size_sets_the_page_size_and_zero_turns_paging_off() {
        let table = r#"{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":"5"},"columnDefinitions":[{"name":"Name","type":"string","format":"name","priority":0}],"rows":[{"cells":["a"]}]}"#;
        let mut t = FakeTransport::new()
            .json("/api/v1/namespaces/demo/pods?limit=2", 200, table)
            .json("/api/v1/namespaces/demo/pods", 200, table);
        let (code, out, _) = run_with(&["get", "pods", "-n", "demo", "--chunk-size", "2"], &mut t);
        assert_eq!((code, out.as_str()), (0, "NAME\na\n"));
        let (code, out, _) = run_with(&["get", "pods", "-n", "demo", "--chunk-size=0"], &mut t);
        assert_eq!((code, out.as_str()), (0, "NAME\na\n"));
        let (code, _, err) = run_with(&["get", "pods", "--chunk-size", "many"], &mut t);
        assert_eq!(code, 1);
        assert!(
            err.contains(r#"invalid argument "many" for "--chunk-size" flag"#),
            "{err}"
        );
    }

    #[test]
    fn get_empty_list_says_no_resources_found_on_stderr() {
        let empty = r#"{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":"8384"},"columnDefinitions":[{"name":"Name","type":"string","format":"name","priority":0}],"rows":[]}"#;
        let mut t = FakeTransport::new()
            .json("/api/v1/namespaces/no-such-ns/pods?limit=500", 200, empty)
            .json("/api/v1/nodes?limit=500", 200, empty)
            .json("/api/v1/pods?limit=500", 200, empty);
        let (code, out, err) = run_with(&["get", "pods", "-n", "no-such-ns"], &mut t);
        assert_eq!((code, out.as_str()), (0, ""));
        assert_eq!(err, "No resources found in no-such-ns namespace.\n");
        let (_, _, err) = run_with(&["get", "nodes"], &mut t);
        assert_eq!(err, "No resources found\n");
        let (_, _, err) = run_with(&["get", "pods", "-A"], &mut t);
        assert_eq!(err, "No resources found\n");
    }

    #[test]
    fn get_missing_pod_prints_not_found_and_exits_1() {
        let mut t = FakeTransport::new().fixture(
            "/api/v1/namespaces/demo/pods/does-not-exist",
            include_str!("../../../tests/fixtures/error-404-missing-pod.http"),
        );
        let (code, out, err) = run_with(&["get", "pod", "does-not-exist", "-n", "demo"], &mut t);
        assert_eq!((code, out.as_str()), (1, ""));
        assert_eq!(
            err,
            "Error from server (NotFound): pods \"does-not-exist\" not found\n"
        );
    }

    #[test]
    fn get_forbidden_list_prints_the_status_like_kubectl() {
        let mut t = FakeTransport::new().fixture(
            "/api/v1/namespaces/kube-system/pods?limit=500",
            include_str!("../../../tests/fixtures/error-403-reader-list-pods-kube-system.http"),
        );
        let (code, _, err) = run_with(&["get", "pods", "-n", "kube-system"], &mut t);
        assert_eq!(code, 1);
        assert_eq!(
            err,
            "Error from server (Forbidden): pods is forbidden: User \"system:serviceaccount:demo:reader\" cannot list resource \"pods\" in API group \"\" in the namespace \"kube-system\"\n"
        );
    }

    #[test]
    fn get_several_names_prints_found_rows_then_errors() {
        let mut t = FakeTransport::new()
            .fixture(
                "/api/v1/namespaces/demo/pods/demo-00001",
                include_str!("../../../tests/fixtures/pod-get-table.http"),
            )
            .fixture(
                "/api/v1/namespaces/demo/pods/does-not-exist",
                include_str!("../../../tests/fixtures/error-404-missing-pod.http"),
            );
        let (code, out, err) = run_with(
            &["get", "pods", "demo-00001", "does-not-exist", "-n", "demo"],
            &mut t,
        );
        assert_eq!(code, 1);
        assert_eq!(
            out,
            "NAME         READY   STATUS    RESTARTS   AGE\ndemo-00001   1/1     Running   1          12m\n"
        );
        assert_eq!(
            err,
            "Error from server (NotFound): pods \"does-not-exist\" not found\n"
        );
    }

    #[test]
    fn get_type_slash_name_of_several_kinds_prefixes_names_and_separates_tables() {
        let mut t = FakeTransport::new()
            .fixture(
                "/api/v1/namespaces/demo/pods/demo-00001",
                include_str!("../../../tests/fixtures/pod-get-table.http"),
            )
            .fixture(
                "/api/v1/nodes/node-1",
                include_str!("../../../tests/fixtures/nodes-table.http"),
            );
        let (code, out, _) = run_with(
            &["get", "pod/demo-00001", "no/node-1", "-n", "demo"],
            &mut t,
        );
        assert_eq!(code, 0);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "NAME             READY   STATUS    RESTARTS   AGE"
        );
        assert_eq!(
            lines[1],
            "pod/demo-00001   1/1     Running   1          12m"
        );
        assert_eq!(lines[2], "");
        assert_eq!(lines[3], "NAME          STATUS   ROLES    AGE   VERSION");
        assert_eq!(lines[4], "node/node-1   Ready    <none>   12m   v1.36.2");
    }

    #[test]
    fn get_single_pod_as_json_prints_the_object() {
        let mut t = FakeTransport::new().fixture(
            "/api/v1/namespaces/demo/pods/demo-00001",
            include_str!("../../../tests/fixtures/pod-get.http"),
        );
        let (code, out, _) = run_with(
            &["get", "pod/demo-00001", "-n", "demo", "-o", "json"],
            &mut t,
        );
        assert_eq!(code, 0);
        assert!(out.starts_with("{\n    \"apiVersion\": \"v1\",\n    \"kind\": \"Pod\",\n"));
        assert_eq!(t.requests[0].header("accept"), Some("application/json"));
        let pod: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(pod["metadata"]["name"], "demo-00001");
    }

    #[test]
    fn get_jsonpath_applies_the_template_to_the_list() {
        let mut t =
            FakeTransport::new().fixture("/api/v1/namespaces/demo/pods?limit=500", PODS_LIST);
        let (code, out, err) = run_with(
            &[
                "get",
                "pods",
                "-n",
                "demo",
                "-o",
                "jsonpath={.items[*].metadata.name}",
            ],
            &mut t,
        );
        assert_eq!((code, err.as_str()), (0, ""));
        assert_eq!(t.requests[0].header("accept"), Some("application/json"));
        let names: Vec<String> = (0..50).map(|i| format!("demo-{i:05}")).collect();
        assert_eq!(out, names.join(" "));

        let (code, out, _) = run_with(
            &[
                "get",
                "pods",
                "-n",
                "demo",
                r#"-o=jsonpath={range .items[?(@.status.phase!="Running")]}{.metadata.name}{"\t"}{.status.phase}{"\n"}{end}"#,
            ],
            &mut t,
        );
        assert_eq!(code, 0);
        let pending: String = (0..50)
            .step_by(5)
            .map(|i| format!("demo-{i:05}\tPending\n"))
            .collect();
        assert_eq!(out, pending);
    }

    #[test]
    fn get_jsonpath_applies_the_template_to_a_single_object() {
        let mut t = FakeTransport::new().fixture(
            "/api/v1/namespaces/demo/pods/demo-00001",
            include_str!("../../../tests/fixtures/pod-get.http"),
        );
        let (code, out, err) = run_with(
            &[
                "get",
                "pod/demo-00001",
                "-n",
                "demo",
                "-o",
                "jsonpath={.metadata.name} {..image} [{.metadata.nope}]",
            ],
            &mut t,
        );
        assert_eq!((code, err.as_str()), (0, ""));
        // `..image` finds the spec's and the container status's image.
        assert_eq!(
            out,
            "demo-00001 registry.k8s.io/pause:3.10 registry.k8s.io/pause:3.10 []"
        );
    }

    #[test]
    fn get_list_as_json_prints_a_kubectl_list() {
        let mut t =
            FakeTransport::new().fixture("/api/v1/namespaces/demo/pods?limit=500", PODS_LIST);
        let (code, out, err) = run_with(&["get", "pods", "-n", "demo", "-o", "json"], &mut t);
        assert_eq!((code, err.as_str()), (0, ""));
        let list: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(list["kind"], "List");
        assert_eq!(list["metadata"]["resourceVersion"], "");
        assert_eq!(list["items"][0]["kind"], "Pod");
        assert_eq!(list["items"].as_array().unwrap().len(), 50);
        assert!(out.ends_with("    \"kind\": \"List\",\n    \"metadata\": {\n        \"resourceVersion\": \"\"\n    }\n}\n"));
    }

    #[test]
    fn get_list_as_json_streams_pages_and_closes_the_list_when_a_page_fails() {
        let page1 = r#"{"kind":"PodList","apiVersion":"v1","metadata":{"continue":"c2"},"items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}}]}"#;
        let mut t = FakeTransport::new()
            .chunks(
                "/api/v1/namespaces/demo/pods?limit=500",
                200,
                page1.as_bytes().chunks(9).map(<[u8]>::to_vec).collect(),
            )
            .failing_chunks(
                "/api/v1/namespaces/demo/pods?continue=c2&limit=500",
                vec![
                    br#"{"kind":"PodList","apiVersion":"v1","items":[{"metadata":{"name":"c"}},"#
                        .to_vec(),
                ],
                ClientError::Body("connection reset".into()),
            );
        let (code, out, err) = run_with(&["get", "pods", "-n", "demo", "-o", "json"], &mut t);
        assert_eq!(code, 1);
        assert!(err.contains("connection reset"), "{err}");
        // The items that arrived, each with its type, in a document that still parses.
        let list: serde_json::Value = serde_json::from_str(&out).unwrap();
        let names: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["metadata"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(list["items"][2]["kind"], "Pod");
    }

    #[test]
    fn get_list_as_yaml_prints_a_kubectl_list() {
        let mut t =
            FakeTransport::new().fixture("/api/v1/namespaces/demo/pods?limit=500", PODS_LIST);
        let (code, out, _) = run_with(&["get", "pods", "-n", "demo", "-o", "yaml"], &mut t);
        assert_eq!(code, 0);
        assert!(
            out.starts_with("apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata:\n"),
            "{out}"
        );
        assert!(
            out.ends_with("kind: List\nmetadata:\n  resourceVersion: \"\"\n"),
            "{out}"
        );
    }

    #[test]
    fn get_names_asks_for_metadata_only() {
        let mut t =
            FakeTransport::new().fixture("/api/v1/namespaces/demo/pods?limit=500", PODS_LIST);
        let (code, out, _) = run_with(&["get", "pods", "-n", "demo", "-o", "name"], &mut t);
        assert_eq!(code, 0);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 50);
        assert_eq!(lines[0], "pod/demo-00000");
        assert_eq!(lines[49], "pod/demo-00049");
        assert_eq!(
            t.requests[0].header("accept"),
            Some(
                "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json"
            )
        );
    }

    #[test]
    fn get_rejects_invalid_argument_combinations() {
        let mut t = FakeTransport::new();
        for (args, message) in [
            (&["get"][..], "error: Required resource not specified."),
            (
                &["get", "widgets"],
                "error: the server doesn't have a resource type \"widgets\"",
            ),
            (
                &["get", "pods", "x", "-A"],
                "error: a resource cannot be retrieved by name across all namespaces",
            ),
            (
                &["get", "pods", "x", "-l", "a=b"],
                "error: name cannot be provided when a selector is specified",
            ),
            (
                &["get", "pods", "a", "b", "-w"],
                "error: watch is only supported on individual resources and resource collections, but 2 resources were found",
            ),
            (
                &["get", "pods,svc", "-w"],
                "error: you may only specify a single resource type",
            ),
            (
                &["get", "pods", "pod/x"],
                "error: there is no need to specify a resource type",
            ),
            (
                &["get", "pod/"],
                "error: arguments in resource/name form must have a single resource and name",
            ),
            (
                &["get", "pods", ".."],
                "error: invalid resource name \"..\": [may not be '..']",
            ),
        ] {
            let (code, out, err) = run_with(args, &mut t);
            assert_eq!((code, out.as_str()), (1, ""), "{args:?}");
            assert!(err.starts_with(message), "{args:?}: {err}");
        }
        assert!(
            t.requests.is_empty(),
            "invalid input must not reach the server"
        );
    }

    fn table_event(kind: &str, name: &str, rv: &str, with_columns: bool) -> String {
        let columns = if with_columns {
            r#"[{"name":"Name","type":"string","format":"name","description":"","priority":0},{"name":"Ready","type":"string","format":"","description":"","priority":0},{"name":"Status","type":"string","format":"","description":"","priority":0},{"name":"Restarts","type":"string","format":"","description":"","priority":0},{"name":"Age","type":"string","format":"","description":"","priority":0},{"name":"IP","type":"string","format":"","description":"","priority":1},{"name":"Node","type":"string","format":"","description":"","priority":1},{"name":"Nominated Node","type":"string","format":"","description":"","priority":1},{"name":"Readiness Gates","type":"string","format":"","description":"","priority":1}]"#
        } else {
            "null"
        };
        format!(
            r#"{{"type":"{kind}","object":{{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{{"resourceVersion":"{rv}"}},"columnDefinitions":{columns},"rows":[{{"cells":["{name}","0/1","Pending","0","0s","<none>","<none>","<none>","<none>"],"object":{{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{{"name":"{name}","namespace":"demo","resourceVersion":"{rv}"}}}}}}]}}}}"#
        ) + "\n"
    }

    const WATCH_PATH: &str =
        "/api/v1/namespaces/demo/pods?allowWatchBookmarks=true&resourceVersion=";
    const FORBIDDEN: &str = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods is forbidden: User \"reader\" cannot watch resource \"pods\" in API group \"\" in the namespace \"demo\"","reason":"Forbidden","details":{"kind":"pods"},"code":403}"#;
    const FORBIDDEN_LINE: &str = "Error from server (Forbidden): pods is forbidden: User \"reader\" cannot watch resource \"pods\" in API group \"\" in the namespace \"demo\"\n";

    fn watch_path(rv: &str) -> String {
        format!("{WATCH_PATH}{rv}&watch=true")
    }

    /// A Name-only table listing `rows` (name, resourceVersion) at `rv`.
    fn name_table(rv: &str, rows: &[(&str, &str)]) -> String {
        let rows: Vec<String> = rows
            .iter()
            .map(|(name, rv)| format!(r#"{{"cells":["{name}"],"object":{{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{{"name":"{name}","namespace":"demo","resourceVersion":"{rv}"}}}}}}"#))
            .collect();
        format!(
            r#"{{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{{"resourceVersion":"{rv}"}},"columnDefinitions":[{{"name":"Name","type":"string","format":"name","description":"","priority":0}}],"rows":[{}]}}"#,
            rows.join(",")
        )
    }

    /// A watch event carrying a one-row Name table (no column definitions).
    fn name_event(kind: &str, name: &str, rv: &str) -> String {
        format!(
            r#"{{"type":"{kind}","object":{{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{{"resourceVersion":"{rv}"}},"columnDefinitions":null,"rows":[{{"cells":["{name}"],"object":{{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{{"name":"{name}","namespace":"demo","resourceVersion":"{rv}"}}}}}}]}}}}"#
        ) + "\n"
    }

    fn bookmark(rv: &str) -> String {
        format!(
            r#"{{"type":"BOOKMARK","object":{{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{{"resourceVersion":"{rv}"}},"columnDefinitions":null,"rows":[]}}}}"#
        ) + "\n"
    }

    #[test]
    fn get_watch_prints_the_list_then_each_event_as_it_arrives() {
        let body = [
            table_event("ADDED", "watch-demo", "8394", true),
            table_event("MODIFIED", "watch-demo", "8396", false),
            bookmark("8399"),
            table_event("DELETED", "watch-demo", "8399", false),
        ]
        .concat();
        // Split the body mid-event to exercise the incremental parser.
        let (a, b) = body.split_at(body.len() / 3);
        let mut t = FakeTransport::new()
            .fixture("/api/v1/namespaces/demo/pods?limit=500", PODS_TABLE)
            .chunks(
                &watch_path("8384"),
                200,
                vec![a.as_bytes().to_vec(), b.as_bytes().to_vec()],
            )
            .json(&watch_path("8399"), 403, FORBIDDEN);
        let run = run_full(&["get", "pods", "-n", "demo", "-w"], &mut t);
        assert_eq!((run.code, run.err.as_str()), (1, FORBIDDEN_LINE));
        let lines: Vec<&str> = run.out.lines().collect();
        assert_eq!(lines.len(), 54);
        assert_eq!(lines[0], "NAME         READY   STATUS    RESTARTS   AGE");
        assert_eq!(lines[51], "watch-demo   0/1     Pending   0          0s");
        assert_eq!(lines[52], lines[51]);
        assert_eq!(lines[53], lines[51]);
        assert_eq!(t.requests[1].header("accept"), Some(ACCEPT_TABLE));
        // stdout was flushed after the list and after every printed event.
        assert!(run.flushes >= 4, "{}", run.flushes);
    }

    #[test]
    fn watch_resumes_from_last_bookmark_after_server_close() {
        let mut t = FakeTransport::new()
            .json(
                "/api/v1/namespaces/demo/pods?limit=500",
                200,
                &name_table("100", &[("a", "90")]),
            )
            .chunks(
                &watch_path("100"),
                200,
                vec![(name_event("ADDED", "b", "101") + &bookmark("150")).into_bytes()],
            )
            .chunks(
                &watch_path("150"),
                200,
                vec![name_event("MODIFIED", "b", "160").into_bytes()],
            )
            .json(&watch_path("160"), 403, FORBIDDEN);
        let (code, out, err) = run_with(&["get", "pods", "-n", "demo", "-w"], &mut t);
        assert_eq!((code, err.as_str()), (1, FORBIDDEN_LINE));
        assert_eq!(out, "NAME\na\nb\nb\n");
        assert_eq!(
            t.paths(),
            [
                "/api/v1/namespaces/demo/pods?limit=500",
                &watch_path("100"),
                &watch_path("150"),
                &watch_path("160"),
            ]
        );
        assert!(t.sleeps.is_empty(), "a normal end resumes at once");
    }

    #[test]
    fn watch_resumes_after_connection_drop_without_duplicates() {
        let mut t = FakeTransport::new()
            .json(
                "/api/v1/namespaces/demo/pods?limit=500",
                200,
                &name_table("100", &[]),
            )
            .failing_chunks(
                &watch_path("100"),
                vec![
                    name_event("ADDED", "a", "101").into_bytes(),
                    // Half an event, then the connection drops.
                    br#"{"type":"MODIFIED","object":{"kind":"Ta"#.to_vec(),
                ],
                ClientError::Body("connection reset by peer".into()),
            )
            .fail(
                &watch_path("101"),
                ClientError::Connect("dial tcp 127.0.0.1:6443: connect: connection refused".into()),
            )
            .chunks(
                &watch_path("101"),
                200,
                vec![name_event("MODIFIED", "a", "102").into_bytes()],
            )
            .json(&watch_path("102"), 403, FORBIDDEN);
        let (code, out, err) = run_with(
            &["get", "pods", "-n", "demo", "-w", "--output-watch-events"],
            &mut t,
        );
        assert_eq!((code, err.as_str()), (1, FORBIDDEN_LINE));
        assert_eq!(out, "EVENT      NAME\nADDED      a\nMODIFIED   a\n");
        assert_eq!(
            t.sleeps,
            [Duration::from_millis(200), Duration::from_millis(400)]
        );
    }

    #[test]
    fn watch_relists_on_410_without_duplicates() {
        let mut t = FakeTransport::new()
            .json(
                "/api/v1/namespaces/demo/pods?limit=500",
                200,
                &name_table("100", &[("a", "10"), ("b", "20"), ("c", "30")]),
            )
            .json(
                "/api/v1/namespaces/demo/pods?limit=500",
                200,
                &name_table("500", &[("a", "10"), ("b", "450"), ("d", "460")]),
            )
            .fixture(
                &watch_path("100"),
                include_str!("../../../tests/fixtures/watch-too-old-resourceversion.http"),
            )
            .chunks(
                &watch_path("500"),
                200,
                vec![name_event("DELETED", "d", "501").into_bytes()],
            )
            .json(&watch_path("501"), 403, FORBIDDEN);
        let (code, out, err) = run_with(
            &["get", "pods", "-n", "demo", "-w", "--output-watch-events"],
            &mut t,
        );
        assert_eq!((code, err.as_str()), (1, FORBIDDEN_LINE));
        // a is unchanged: not printed again; c disappeared: a synthesized DELETED.
        assert_eq!(
            out,
            "EVENT      NAME\nADDED      a\nADDED      b\nADDED      c\nMODIFIED   b\nADDED      d\nDELETED    c\nDELETED    d\n"
        );
    }

    #[test]
    fn watch_relists_on_http_410() {
        let mut t = FakeTransport::new()
            .json(
                "/api/v1/namespaces/demo/pods?limit=500",
                200,
                &name_table("100", &[("a", "10")]),
            )
            .json(
                "/api/v1/namespaces/demo/pods?limit=500",
                200,
                &name_table("300", &[("a", "10")]),
            )
            .fixture(
                &watch_path("100"),
                include_str!(
                    "../../../tests/fixtures/error-410-list-resourceversion-exact-compacted.http"
                ),
            )
            .json(&watch_path("300"), 403, FORBIDDEN);
        let (code, out, err) = run_with(&["get", "pods", "-n", "demo", "-w"], &mut t);
        assert_eq!((code, err.as_str()), (1, FORBIDDEN_LINE));
        assert_eq!(out, "NAME\na\n");
        assert_eq!(t.requests.len(), 4);
    }

    #[test]
    fn watch_gives_up_after_ten_failures_without_progress() {
        let mut t = FakeTransport::new()
            .json(
                "/api/v1/namespaces/demo/pods?limit=500",
                200,
                &name_table("100", &[]),
            )
            .fail(
                &watch_path("100"),
                ClientError::Connect("dial tcp 127.0.0.1:6443: connect: connection refused".into()),
            );
        let (code, _, err) = run_with(&["get", "pods", "-n", "demo", "-w"], &mut t);
        assert_eq!(code, 1);
        assert_eq!(
            err,
            "error: giving up on the watch of pods after 10 attempts in a row without progress: Unable to connect to the server: dial tcp 127.0.0.1:6443: connect: connection refused\n"
        );
        assert_eq!(t.requests.len(), 11);
        let millis: Vec<u128> = t.sleeps.iter().map(Duration::as_millis).collect();
        assert_eq!(millis, [200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000]);
    }

    #[test]
    fn watch_stops_at_once_when_the_host_denies_it() {
        let mut t = FakeTransport::new()
            .json(
                "/api/v1/namespaces/demo/pods?limit=500",
                200,
                &name_table("100", &[]),
            )
            .fail(
                &watch_path("100"),
                ClientError::Denied("watch pods in demo is not allowed by the policy".into()),
            );
        let (code, _, err) = run_with(&["get", "pods", "-n", "demo", "-w"], &mut t);
        assert_eq!(
            (code, err.as_str()),
            (
                1,
                "error: watch pods in demo is not allowed by the policy\n"
            )
        );
        assert!(t.sleeps.is_empty());
    }

    #[test]
    fn watch_only_skips_the_list() {
        let mut t = FakeTransport::new()
            .json(
                "/api/v1/namespaces/demo/pods?limit=500",
                200,
                &name_table("100", &[("a", "10")]),
            )
            .chunks(
                &watch_path("100"),
                200,
                vec![name_event("MODIFIED", "a", "101").into_bytes()],
            )
            .json(&watch_path("101"), 403, FORBIDDEN);
        let (_, out, _) = run_with(&["get", "pods", "-n", "demo", "--watch-only"], &mut t);
        assert_eq!(out, "NAME\na\n");
    }

    #[test]
    fn watch_events_as_json_put_the_type_first() {
        let list = r#"{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"100"},"items":[{"metadata":{"name":"a","namespace":"demo","resourceVersion":"10"}}]}"#;
        let mut t = FakeTransport::new()
            .json("/api/v1/namespaces/demo/pods?limit=500", 200, list)
            .json(&watch_path("100"), 403, FORBIDDEN);
        let (_, out, _) = run_with(
            &[
                "get",
                "pods",
                "-n",
                "demo",
                "-w",
                "-o",
                "json",
                "--output-watch-events",
            ],
            &mut t,
        );
        assert_eq!(
            out,
            "{\n    \"type\": \"ADDED\",\n    \"object\": {\n        \"apiVersion\": \"v1\",\n        \"kind\": \"Pod\",\n        \"metadata\": {\n            \"name\": \"a\",\n            \"namespace\": \"demo\",\n            \"resourceVersion\": \"10\"\n        }\n    }\n}\n"
        );
        let (_, out, _) = run_with(
            &[
                "get",
                "pods",
                "-n",
                "demo",
                "-w",
                "-o",
                "yaml",
                "--output-watch-events",
            ],
            &mut t,
        );
        assert!(out.starts_with("object:\n  apiVersion: v1\n"), "{out}");
        assert!(out.ends_with("type: ADDED\n"), "{out}");
    }

    #[test]
    fn get_watch_of_one_object_filters_by_name() {
        let list = r#"{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":"100"},"columnDefinitions":[{"name":"Name","type":"string","format":"name","priority":0}],"rows":[{"cells":["demo-00001"],"object":{"metadata":{"name":"demo-00001","namespace":"demo"}}}]}"#;
        let watch = "/api/v1/namespaces/demo/pods?allowWatchBookmarks=true&fieldSelector=metadata.name%3Ddemo-00001&resourceVersion=100&watch=true";
        let mut t = FakeTransport::new()
            .json(
                "/api/v1/namespaces/demo/pods?fieldSelector=metadata.name%3Ddemo-00001&limit=500",
                200,
                list,
            )
            .json(watch, 200, "")
            .json(watch, 403, FORBIDDEN);
        let (code, out, _) = run_with(&["get", "pod", "demo-00001", "-n", "demo", "-w"], &mut t);
        assert_eq!(code, 1);
        assert_eq!(out, "NAME\ndemo-00001\n");
        // A watch that ended with nothing counts as a failure: it backs off.
        assert_eq!(t.sleeps, [Duration::from_millis(200)]);
    }

    #[test]
    fn get_watch_of_a_missing_object_is_not_found() {
        let empty = r#"{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":"100"},"columnDefinitions":[],"rows":[]}"#;
        let mut t = FakeTransport::new().json(
            "/api/v1/namespaces/demo/pods?fieldSelector=metadata.name%3Dnope&limit=500",
            200,
            empty,
        );
        let (code, _, err) = run_with(&["get", "pod", "nope", "-n", "demo", "-w"], &mut t);
        assert_eq!(code, 1);
        assert_eq!(
            err,
            "Error from server (NotFound): pods \"nope\" not found\n"
        );
    }

    #[test]
    fn get_watch_that_keeps_expiring_gives_up() {
        let mut t = FakeTransport::new()
            .fixture("/api/v1/namespaces/demo/pods?limit=500", PODS_TABLE)
            .fixture(
                &watch_path("8384"),
                include_str!("../../../tests/fixtures/watch-too-old-resourceversion.http"),
            );
        let (code, out, err) = run_with(&["get", "pods", "-n", "demo", "-w"], &mut t);
        assert_eq!(code, 1);
        // The relists found nothing new to print.
        assert_eq!(out.lines().count(), 51);
        assert_eq!(
            err,
            "error: giving up on the watch of pods after 10 attempts in a row without progress: Error from server (Expired): too old resource version: 1 (343)\n"
        );
    }

    #[test]
    fn get_watch_as_names_prints_items_then_event_objects() {
        let watch = fixture(include_str!("../../../tests/fixtures/watch-pods-demo.http"));
        let list = r#"{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"8393"},"items":[{"metadata":{"name":"demo-00000","namespace":"demo"}}]}"#;
        let mut t = FakeTransport::new()
            .json("/api/v1/namespaces/demo/pods?limit=500", 200, list)
            .chunks(
                &watch_path("8393"),
                200,
                watch.body.chunks(1000).map(<[u8]>::to_vec).collect(),
            )
            .json(&watch_path("8399"), 403, FORBIDDEN);
        let (code, out, err) = run_with(&["get", "pods", "-n", "demo", "-w", "-o", "name"], &mut t);
        assert_eq!((code, err.as_str()), (1, FORBIDDEN_LINE));
        // The listed pod, then ADDED, 3x MODIFIED and DELETED (the bookmark prints nothing).
        assert_eq!(
            out,
            "pod/demo-00000\npod/watch-demo\npod/watch-demo\npod/watch-demo\npod/watch-demo\npod/watch-demo\n"
        );
        assert_eq!(
            t.requests[1].header("accept"),
            Some("application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io,application/json")
        );
    }

    #[test]
    fn get_watch_as_yaml_separates_documents() {
        let watch = fixture(include_str!("../../../tests/fixtures/watch-pods-demo.http"));
        let list = r#"{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"8393"},"items":[]}"#;
        let mut t = FakeTransport::new()
            .json("/api/v1/namespaces/demo/pods?limit=500", 200, list)
            .chunks(&watch_path("8393"), 200, vec![watch.body.to_vec()])
            .json(&watch_path("8399"), 403, FORBIDDEN);
        let (code, out, _) = run_with(&["get", "pods", "-n", "demo", "-w", "-o", "yaml"], &mut t);
        assert_eq!(code, 1);
        assert!(out.starts_with("apiVersion: v1\nkind: Pod\n"), "{out}");
        assert_eq!(out.matches("\n---\napiVersion: v1\nkind: Pod\n").count(), 4);
    }
}
