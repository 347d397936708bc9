//! `get`: list or get objects and print them as kubectl does; `-w` then watches.

use std::io::Write;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Context, fetch, finish, send};
use crate::cli::GetArgs;
use crate::client::Transport;
use crate::error::Error;
use crate::meta::{MetadataList, PartialObject};
use crate::output::{self, OutputFormat};
use crate::request::{self, Format, ListParams, Method, ResourceUrl, WatchParams};
use crate::resource::{ResourceResolver, ResourceType};
use crate::status::{RequestContext, Status};
use crate::table::{PrintOptions, Table, TablePrinter};
use crate::watch::{EventType, WatchEvent, WatchParser, WatchState};

/// kubectl's default `--chunk-size`: lists are read in pages of this many objects.
const CHUNK_SIZE: u32 = 500;

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
    no_headers: bool,
    show_labels: bool,
    /// One object named: print it, not a `List` (kubectl's `singleItemImplied`).
    single_item: bool,
    /// Several kinds: prefix names with `kind/` in tables.
    several_kinds: bool,
}

impl Plan {
    fn new(
        args: &GetArgs,
        context: &Context,
        resolver: &dyn ResourceResolver,
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
                let resource = resolver.resolve(kind)?;
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
                    resource: resolver.resolve(kind)?,
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
        if args.watch {
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
            output: args.output,
            watch: args.watch,
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
    resolver: &dyn ResourceResolver,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), Error> {
    let plan = Plan::new(args, context, resolver)?;
    if plan.watch {
        return watch(&plan, transport, out);
    }
    match plan.output {
        OutputFormat::Table | OutputFormat::Wide => print_tables(&plan, transport, out, err),
        OutputFormat::Json | OutputFormat::Yaml => print_objects(&plan, transport, out),
        OutputFormat::Name => print_names(&plan, transport, out),
    }
}

/// A list response page, for following `continue` tokens.
trait Page: DeserializeOwned {
    fn continue_token(&self) -> String;
}

impl Page for Table {
    fn continue_token(&self) -> String {
        self.metadata.continue_token.clone()
    }
}

impl Page for MetadataList {
    fn continue_token(&self) -> String {
        self.metadata.continue_token.clone()
    }
}

impl Page for Value {
    fn continue_token(&self) -> String {
        self.pointer("/metadata/continue")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    }
}

/// Lists `resource` page by page (kubectl's chunking), handing each page to `each`.
fn for_each_page<T: Page>(
    transport: &mut dyn Transport,
    plan: &Plan,
    resource: &ResourceType,
    params: &ListParams,
    format: Format,
    each: &mut dyn FnMut(T) -> Result<(), Error>,
) -> Result<(), Error> {
    let url = plan.url(resource)?;
    let group_resource = resource.group_resource();
    let context = RequestContext {
        method: Method::Get,
        resource: Some(&group_resource),
        name: None,
    };
    let mut params = params.clone();
    params.limit = Some(CHUNK_SIZE);
    loop {
        let page: T = fetch(transport, &url.list(&params, format), &context)?;
        let next = page.continue_token();
        each(page)?;
        if next.is_empty() {
            return Ok(());
        }
        params.continue_token = Some(next);
    }
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
            for_each_page(
                transport,
                plan,
                &target.resource,
                &plan.list_params(),
                Format::Table,
                &mut |page: Table| {
                    rows += page.rows.len();
                    printer.print(&page);
                    Ok(())
                },
            )
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
    let mut errors = Vec::new();
    let mut items: Vec<Value> = Vec::new();
    for target in &plan.targets {
        if target.names.is_empty() {
            let result = for_each_page(
                transport,
                plan,
                &target.resource,
                &plan.list_params(),
                Format::Json,
                &mut |page: Value| {
                    items.extend(output::list_items(page));
                    Ok(())
                },
            );
            keep_going(result, &mut errors)?;
        } else {
            for name in &target.names {
                let object =
                    get_one::<Value>(transport, plan, &target.resource, name, Format::Json)
                        .map(|object| items.push(object));
                keep_going(object, &mut errors)?;
            }
        }
    }
    let document = if plan.single_item {
        match items.pop() {
            Some(object) => object,
            // The one object asked for failed: only its error is printed.
            None => return finish(errors),
        }
    } else {
        output::list_object(items)
    };
    write_document(&document, plan.output, 0, out)?;
    finish(errors)
}

/// Writes one object as JSON or YAML; YAML documents after the first are separated by
/// `---`, as kubectl's YAML printer does.
fn write_document(
    document: &Value,
    format: OutputFormat,
    index: usize,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let text = if format == OutputFormat::Yaml {
        let separator = if index > 0 { "---\n" } else { "" };
        format!("{separator}{}", output::to_yaml(document))
    } else {
        output::to_json(document)
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
            let result = for_each_page(
                transport,
                plan,
                resource,
                &plan.list_params(),
                Format::Metadata,
                &mut |page: MetadataList| {
                    for item in page.items {
                        out.write_all(output::name_line(resource, &item.metadata.name).as_bytes())?;
                    }
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

/// `get -w`: list (and print), then print each change from the list's resourceVersion.
fn watch(plan: &Plan, transport: &mut dyn Transport, out: &mut dyn Write) -> Result<(), Error> {
    let Some(target) = plan.targets.first() else {
        return Ok(());
    };
    let mut params = plan.list_params();
    let name = target.names.first().map(String::as_str);
    if let Some(name) = name {
        // One object is watched as a collection filtered to its name, as kubectl does;
        // listing it the same way yields a resourceVersion inside the watch window.
        request::validate_name(name)?;
        params.field_selector = Some(format!("metadata.name={name}"));
    }
    let watch = Watch {
        plan,
        resource: &target.resource,
        params,
        name,
    };
    let state = if plan.output.is_table() {
        watch.tables(transport, out)?
    } else {
        watch.objects(transport, out)?
    };
    server_closed_watch(state)
}

/// One `get -w`: what to list and watch.
struct Watch<'a> {
    plan: &'a Plan,
    resource: &'a ResourceType,
    /// Selectors, with the name's field selector for a single object.
    params: ListParams,
    /// The object named, if one was.
    name: Option<&'a str>,
}

impl Watch<'_> {
    /// A named object that the list did not return does not exist.
    fn check_found(&self, found: usize) -> Result<(), Error> {
        match (self.name, found) {
            (Some(name), 0) => Err(Error::from(Status::not_found(
                &self.resource.group_resource(),
                name,
            ))),
            _ => Ok(()),
        }
    }

    /// Tables: the list's rows, then one row per event under the same header.
    fn tables(
        &self,
        transport: &mut dyn Transport,
        out: &mut dyn Write,
    ) -> Result<WatchState, Error> {
        let mut printer = TablePrinter::new(self.plan.print_options(self.resource));
        let mut rows = 0;
        let mut start = String::new();
        for_each_page(
            transport,
            self.plan,
            self.resource,
            &self.params,
            Format::Table,
            &mut |page: Table| {
                if start.is_empty() {
                    start = page.metadata.resource_version.clone();
                }
                rows += page.rows.len();
                printer.print(&page);
                Ok(())
            },
        )?;
        self.check_found(rows)?;
        printer.flush(out)?;
        out.flush()?;
        watch_once(
            transport,
            self.plan,
            self.resource,
            &self.params,
            Format::Table,
            start,
            &mut |event| {
                let table: Table = event.decode()?;
                printer.print(&table);
                printer.flush(out)?;
                out.flush()?;
                Ok(())
            },
        )
    }

    /// JSON, YAML or names: each listed object, then each event's object.
    fn objects(
        &self,
        transport: &mut dyn Transport,
        out: &mut dyn Write,
    ) -> Result<WatchState, Error> {
        let output = self.plan.output;
        let format = if output == OutputFormat::Name {
            Format::Metadata
        } else {
            Format::Json
        };
        let mut items = Vec::new();
        let mut start = String::new();
        for_each_page(
            transport,
            self.plan,
            self.resource,
            &self.params,
            format,
            &mut |page: Value| {
                if start.is_empty() {
                    start = page
                        .pointer("/metadata/resourceVersion")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string();
                }
                items.extend(output::list_items(page));
                Ok(())
            },
        )?;
        self.check_found(items.len())?;
        let mut printed = 0;
        let mut print = |object: Value, out: &mut dyn Write| -> Result<(), Error> {
            if output == OutputFormat::Name {
                let name = object
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                out.write_all(output::name_line(self.resource, name).as_bytes())?;
            } else {
                write_document(&object, output, printed, out)?;
            }
            printed += 1;
            out.flush()?;
            Ok(())
        };
        for item in items {
            print(item, out)?;
        }
        watch_once(
            transport,
            self.plan,
            self.resource,
            &self.params,
            format,
            start,
            &mut |event| print(event.decode()?, out),
        )
    }
}

/// Watches from `resource_version` until the server ends the stream, handing every
/// ADDED, MODIFIED and DELETED event to `on_event` as it arrives. Returns where the
/// watch got to; an ERROR event (e.g. `410 Expired`) ends it with the server's error.
fn watch_once(
    transport: &mut dyn Transport,
    plan: &Plan,
    resource: &ResourceType,
    params: &ListParams,
    format: Format,
    resource_version: String,
    on_event: &mut dyn FnMut(&WatchEvent) -> Result<(), Error>,
) -> Result<WatchState, Error> {
    let mut state = WatchState::new(resource_version);
    let watch_params = WatchParams {
        label_selector: params.label_selector.clone(),
        field_selector: params.field_selector.clone(),
        resource_version: Some(state.resource_version.clone()).filter(|rv| !rv.is_empty()),
        allow_bookmarks: true,
        timeout_seconds: None,
    };
    let request = plan.url(resource)?.watch(&watch_params, format);
    let group_resource = resource.group_resource();
    let context = RequestContext {
        method: Method::Get,
        resource: Some(&group_resource),
        name: None,
    };
    let mut response = send(transport, &request, &context)?;
    let mut parser = WatchParser::new();
    let mut handle = |event: WatchEvent, state: &mut WatchState| -> Result<(), Error> {
        match event.event_type {
            EventType::Error => Err(Error::from(event.status())),
            // Bookmarks only move the resourceVersion forward; nothing to print.
            EventType::Bookmark => {
                state.observe(&event);
                Ok(())
            }
            EventType::Added | EventType::Modified | EventType::Deleted => {
                state.observe(&event);
                on_event(&event)
            }
        }
    };
    while let Some(chunk) = response.body.next_chunk()? {
        for event in parser.feed(&chunk)? {
            handle(event, &mut state)?;
        }
    }
    if let Some(event) = parser.finish()? {
        handle(event, &mut state)?;
    }
    Ok(state)
}

/// The server ended the watch (its timeout, a restart, a dropped proxy). Resuming from
/// `resumable_from.resource_version`, and relisting after `410 Expired`, is the
/// watch-resumption issue's job; until then the command ends successfully, as the slice
/// specifies.
fn server_closed_watch(resumable_from: WatchState) -> Result<(), Error> {
    drop(resumable_from);
    Ok(())
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn get_watch_prints_the_list_then_each_event_as_it_arrives() {
        let body = [
            table_event("ADDED", "watch-demo", "8394", true),
            table_event("MODIFIED", "watch-demo", "8396", false),
            r#"{"type":"BOOKMARK","object":{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":"8399"},"columnDefinitions":null,"rows":[]}}"#.to_string() + "\n",
            table_event("DELETED", "watch-demo", "8399", false),
        ]
        .concat();
        // Split the body mid-event to exercise the incremental parser.
        let (a, b) = body.split_at(body.len() / 3);
        let mut t = FakeTransport::new()
            .fixture("/api/v1/namespaces/demo/pods?limit=500", PODS_TABLE)
            .chunks(
                "/api/v1/namespaces/demo/pods?allowWatchBookmarks=true&resourceVersion=8384&watch=true",
                200,
                vec![a.as_bytes().to_vec(), b.as_bytes().to_vec()],
            );
        let run = run_full(&["get", "pods", "-n", "demo", "-w"], &mut t);
        assert_eq!((run.code, run.err.as_str()), (0, ""));
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
    fn get_watch_of_one_object_filters_by_name() {
        let list = r#"{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":"100"},"columnDefinitions":[{"name":"Name","type":"string","format":"name","priority":0}],"rows":[{"cells":["demo-00001"],"object":{"metadata":{"name":"demo-00001","namespace":"demo"}}}]}"#;
        let mut t = FakeTransport::new()
            .json("/api/v1/namespaces/demo/pods?fieldSelector=metadata.name%3Ddemo-00001&limit=500", 200, list)
            .json(
                "/api/v1/namespaces/demo/pods?allowWatchBookmarks=true&fieldSelector=metadata.name%3Ddemo-00001&resourceVersion=100&watch=true",
                200,
                "",
            );
        let (code, out, _) = run_with(&["get", "pod", "demo-00001", "-n", "demo", "-w"], &mut t);
        assert_eq!(code, 0);
        assert_eq!(out, "NAME\ndemo-00001\n");
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
    fn get_watch_error_event_prints_the_status_and_exits_1() {
        let mut t = FakeTransport::new()
            .fixture("/api/v1/namespaces/demo/pods?limit=500", PODS_TABLE)
            .fixture(
                "/api/v1/namespaces/demo/pods?allowWatchBookmarks=true&resourceVersion=8384&watch=true",
                include_str!("../../../tests/fixtures/watch-too-old-resourceversion.http"),
            );
        let (code, out, err) = run_with(&["get", "pods", "-n", "demo", "-w"], &mut t);
        assert_eq!(code, 1);
        assert_eq!(out.lines().count(), 51);
        assert_eq!(
            err,
            "Error from server (Expired): too old resource version: 1 (343)\n"
        );
    }

    #[test]
    fn get_watch_as_names_prints_items_then_event_objects() {
        let watch = fixture(include_str!("../../../tests/fixtures/watch-pods-demo.http"));
        let list = r#"{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"8393"},"items":[{"metadata":{"name":"demo-00000","namespace":"demo"}}]}"#;
        let mut t = FakeTransport::new()
            .json("/api/v1/namespaces/demo/pods?limit=500", 200, list)
            .chunks(
                "/api/v1/namespaces/demo/pods?allowWatchBookmarks=true&resourceVersion=8393&watch=true",
                200,
                watch.body.chunks(1000).map(<[u8]>::to_vec).collect(),
            );
        let (code, out, err) = run_with(&["get", "pods", "-n", "demo", "-w", "-o", "name"], &mut t);
        assert_eq!((code, err.as_str()), (0, ""));
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
            .chunks(
                "/api/v1/namespaces/demo/pods?allowWatchBookmarks=true&resourceVersion=8393&watch=true",
                200,
                vec![watch.body.to_vec()],
            );
        let (code, out, _) = run_with(&["get", "pods", "-n", "demo", "-w", "-o", "yaml"], &mut t);
        assert_eq!(code, 0);
        assert!(out.starts_with("apiVersion: v1\nkind: Pod\n"), "{out}");
        assert_eq!(out.matches("\n---\napiVersion: v1\nkind: Pod\n").count(), 4);
    }
}
