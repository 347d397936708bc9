//! The write commands: `create -f`, `apply -f` (server-side apply), `delete`, `patch`.
//!
//! Each request goes through the host's policy like any other; by default the host
//! allows no writes, and a denial names the rule that would allow it. Like kubectl, a
//! command goes on after an object fails and reports every failure at the end.

use std::io::Write;

use serde_json::Value;

use super::{Context, Files, Types, fetch, finish, send};
use crate::cli::WriteArgs;
use crate::client::Transport;
use crate::error::Error;
use crate::golang;
use crate::manifest::{self, Manifest};
use crate::meta::PartialObject;
use crate::request::{Format, Method, PatchType, ResourceUrl, WriteParams};
use crate::resource::ResourceType;
use crate::status::RequestContext;

/// kubectl's advice after a server-side apply conflict.
const CONFLICT_HELP: &str =
    "Please review the fields above--they currently have other managers. Here
are the ways you can resolve this warning:
* If you intend to manage all of these fields, please re-run the apply
  command with the `--force-conflicts` flag.
* If you do not intend to manage all of the fields, please edit your
  manifest to remove references to the fields that should keep their
  current managers.
* You may co-own fields by updating your manifest to match the existing
  value; in this case, you'll become the manager if the other manager(s)
  stop managing the field (remove it from their configuration).
See https://kubernetes.io/docs/reference/using-api/server-side-apply/#conflicts";

fn params(args: &WriteArgs) -> WriteParams {
    WriteParams {
        dry_run: args.dry_run,
        force: args.force_conflicts,
    }
}

/// ` (server dry run)` after a message, as kubectl prints it.
fn dry_run_suffix(args: &WriteArgs) -> &'static str {
    if args.dry_run {
        " (server dry run)"
    } else {
        ""
    }
}

/// The namespace an object goes to: its own, else `-n`, else the credential's; a
/// conflict between the object's and an explicit `-n` is an error, as in kubectl.
fn namespace_of(object: &Manifest, args: &WriteArgs, context: &Context) -> Result<String, Error> {
    let explicit = args.namespace.clone().filter(|ns| !ns.is_empty());
    match (&object.namespace, explicit) {
        (Some(own), Some(flag)) if *own != flag => Err(Error::Invalid(format!(
            "the namespace from the provided object \"{own}\" does not match the namespace \"{flag}\". You must pass '--namespace={own}' to perform this operation."
        ))),
        (Some(own), _) => Ok(own.clone()),
        (None, Some(flag)) => Ok(flag),
        (None, None) => Ok(context.namespace.clone()),
    }
}

/// Adds kubectl's `error when creating "FILE": ` to a server error about one object of
/// a file (`cmdutil.AddSourceToErr`).
fn with_source(error: Error, verb: &str, source: &str) -> Error {
    match error {
        Error::Server(mut status) => {
            status.message = format!(
                "error when {verb} {}: {}",
                golang::quote(source),
                status.message
            );
            Error::Server(status)
        }
        other => other,
    }
}

/// Reads every `-f` (kubectl calls stdin `STDIN` in messages).
fn read_manifests(
    args: &WriteArgs,
    files: &mut dyn Files,
) -> Result<Vec<(String, Manifest)>, Error> {
    let mut all = Vec::new();
    for path in &args.filenames {
        let source = if path == "-" { "STDIN" } else { path.as_str() };
        let text = files.read(path).map_err(|e| {
            Error::Invalid(format!(
                "the path {} cannot be read: {e}",
                golang::quote(path)
            ))
        })?;
        let objects = manifest::parse(&text, source).map_err(|e| Error::Invalid(e.to_string()))?;
        all.extend(objects.into_iter().map(|o| (source.to_string(), o)));
    }
    Ok(all)
}

/// Collects a server error and goes on; anything else (the host refusing, no
/// connection) stops, since the next object would fail the same way.
fn keep_going(result: Result<(), Error>, errors: &mut Vec<Error>) -> Result<(), Error> {
    match result {
        Err(e @ (Error::Server(_) | Error::Invalid(_))) => {
            errors.push(e);
            Ok(())
        }
        other => other,
    }
}

/// One object of the `-f` input, resolved to where it goes on the server.
struct Resolved<'a> {
    /// The file it came from (`STDIN` for `-`), for error messages.
    source: &'a str,
    object: &'a Manifest,
    resource: ResourceType,
    url: ResourceUrl,
    /// The object as JSON (also valid YAML, for server-side apply).
    body: Vec<u8>,
    group_resource: String,
}

impl Resolved<'_> {
    /// The request body, moved out (each object is sent once).
    fn take_body(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.body)
    }

    fn context(&self, method: Method) -> RequestContext<'_> {
        RequestContext {
            method,
            resource: Some(&self.group_resource),
            name: Some(&self.object.name),
        }
    }
}

/// Reads every `-f` object, resolves its kind, namespace and URL, and hands it to `each`.
/// A server error on one object is collected and the rest still go (as kubectl does).
fn for_each_manifest(
    args: &WriteArgs,
    context: &Context,
    transport: &mut dyn Transport,
    types: &mut Types<'_>,
    files: &mut dyn Files,
    err: &mut dyn Write,
    mut each: impl FnMut(&mut dyn Transport, Resolved<'_>) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut errors = Vec::new();
    for (source, object) in read_manifests(args, files)? {
        let result = (|| {
            let resource = types.resolve_kind(transport, err, &object.api_version, &object.kind)?;
            let namespace = namespace_of(&object, args, context)?;
            let url = ResourceUrl::new(&resource, Some(&namespace))?;
            let body =
                serde_json::to_vec(&object.object).map_err(|e| Error::Invalid(e.to_string()))?;
            let group_resource = resource.group_resource();
            let resolved = Resolved {
                source: &source,
                object: &object,
                resource,
                url,
                body,
                group_resource,
            };
            each(transport, resolved)
        })();
        keep_going(result, &mut errors)?;
    }
    finish(errors)
}

/// `create -f`: POSTs each object.
pub(super) fn create(
    args: &WriteArgs,
    context: &Context,
    transport: &mut dyn Transport,
    types: &mut Types<'_>,
    files: &mut dyn Files,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), Error> {
    for_each_manifest(
        args,
        context,
        transport,
        types,
        files,
        err,
        |transport, mut target| {
            let body = target.take_body();
            let request = target.url.create(body, &params(args));
            let created: PartialObject = fetch(transport, &request, &target.context(Method::Post))
                .map_err(|e| with_source(e, "creating", target.source))?;
            writeln!(
                out,
                "{}/{} created{}",
                target.resource.kind_prefix(),
                created.metadata.name,
                dry_run_suffix(args)
            )?;
            Ok(())
        },
    )
}

/// `apply -f`: server-side apply of each object (a PATCH with the whole intent).
pub(super) fn apply(
    args: &WriteArgs,
    context: &Context,
    transport: &mut dyn Transport,
    types: &mut Types<'_>,
    files: &mut dyn Files,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), Error> {
    for_each_manifest(
        args,
        context,
        transport,
        types,
        files,
        err,
        |transport, mut target| {
            // Apply bodies may be YAML; JSON is YAML, and is what we have parsed.
            let body = target.take_body();
            let request =
                target
                    .url
                    .patch(&target.object.name, PatchType::Apply, body, &params(args))?;
            let applied: Result<PartialObject, Error> =
                fetch(transport, &request, &target.context(Method::Patch));
            match applied {
                Ok(_) => {}
                Err(Error::Server(status)) if status.code == 409 && status.reason == "Conflict" => {
                    return Err(Error::Invalid(format!(
                        "{}\n{CONFLICT_HELP}",
                        status.message
                    )));
                }
                Err(e) => return Err(with_source(e, "serverside-applying", target.source)),
            }
            writeln!(
                out,
                "{}/{} serverside-applied{}",
                target.resource.kind_prefix(),
                target.object.name,
                dry_run_suffix(args)
            )?;
            Ok(())
        },
    )
}

/// The `TYPE NAME...` or `TYPE/NAME...` of `delete` and `patch`.
fn targets(
    args: &WriteArgs,
    transport: &mut dyn Transport,
    types: &mut Types<'_>,
    err: &mut dyn Write,
) -> Result<Vec<(ResourceType, String)>, Error> {
    let mut targets = Vec::new();
    if args.args.iter().any(|a| a.contains('/')) {
        for arg in &args.args {
            let (kind, name) = arg
                .split_once('/')
                .filter(|(k, n)| !k.is_empty() && !n.is_empty() && !n.contains('/'))
                .ok_or_else(|| {
                    Error::Invalid(
                        "arguments in resource/name form must have a single resource and name"
                            .into(),
                    )
                })?;
            targets.push((types.resolve(transport, err, kind)?, name.to_string()));
        }
    } else if let Some((kind, names)) = args.args.split_first() {
        if names.is_empty() {
            return Err(Error::Invalid(
                "resource(s) were provided, but no name was specified".into(),
            ));
        }
        for kind in kind.split(',') {
            let resource = types.resolve(transport, err, kind)?;
            targets.extend(names.iter().map(|n| (resource.clone(), n.clone())));
        }
    }
    Ok(targets)
}

fn namespace(args: &WriteArgs, context: &Context) -> String {
    args.namespace
        .clone()
        .filter(|ns| !ns.is_empty())
        .unwrap_or_else(|| context.namespace.clone())
}

/// `delete TYPE NAME...`: prints `pod "x" deleted` for each.
pub(super) fn delete(
    args: &WriteArgs,
    context: &Context,
    transport: &mut dyn Transport,
    types: &mut Types<'_>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), Error> {
    let namespace = namespace(args, context);
    let mut errors = Vec::new();
    for (resource, name) in targets(args, transport, types, err)? {
        let result = (|| {
            let request =
                ResourceUrl::new(&resource, Some(&namespace))?.delete(&name, &params(args))?;
            let group_resource = resource.group_resource();
            let request_context = RequestContext {
                method: Method::Delete,
                resource: Some(&group_resource),
                name: Some(&name),
            };
            // The body is the object or a Success Status; either means deleted.
            let mut response = send(transport, &request, &request_context)?;
            response.read_body()?;
            writeln!(
                out,
                "{} \"{name}\" deleted{}",
                resource.kind_prefix(),
                dry_run_suffix(args)
            )?;
            Ok(())
        })();
        keep_going(result, &mut errors)?;
    }
    finish(errors)
}

/// `patch TYPE NAME -p PATCH`: reads the object, patches it, and says whether anything
/// changed (`patched` or `patched (no change)`, as kubectl compares before and after).
pub(super) fn patch(
    args: &WriteArgs,
    context: &Context,
    transport: &mut dyn Transport,
    types: &mut Types<'_>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), Error> {
    let text = args.patch.as_deref().unwrap_or_default();
    let body = patch_body(text)?;
    let namespace = namespace(args, context);
    let mut errors = Vec::new();
    for (resource, name) in targets(args, transport, types, err)? {
        let result = (|| {
            let url = ResourceUrl::new(&resource, Some(&namespace))?;
            let group_resource = resource.group_resource();
            let get_context = RequestContext {
                method: Method::Get,
                resource: Some(&group_resource),
                name: Some(&name),
            };
            let before: PartialObject =
                fetch(transport, &url.get(&name, Format::Json)?, &get_context)?;
            let request = url.patch(&name, args.patch_type, body.clone(), &params(args))?;
            let patch_context = RequestContext {
                method: Method::Patch,
                ..get_context
            };
            let after: PartialObject = fetch(transport, &request, &patch_context)?;
            let operation = if after.metadata.resource_version == before.metadata.resource_version {
                "patched (no change)"
            } else {
                "patched"
            };
            writeln!(
                out,
                "{}/{name} {operation}{}",
                resource.kind_prefix(),
                dry_run_suffix(args)
            )?;
            Ok(())
        })();
        keep_going(result, &mut errors)?;
    }
    finish(errors)
}

/// A patch as JSON: kubectl accepts it in JSON or YAML (`yaml.ToJSON`).
fn patch_body(text: &str) -> Result<Vec<u8>, Error> {
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(_) => crate::manifest::yaml::documents(text)
            .ok()
            .and_then(|mut docs| (docs.len() == 1).then(|| docs.remove(0)))
            .ok_or_else(|| Error::Invalid(format!("unable to parse {}", golang::quote(text))))?,
    };
    serde_json::to_vec(&value).map_err(|e| Error::Invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use crate::testutil::{FakeTransport, run_files, run_with};

    const CM_YAML: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fixture-cm\n  labels:\n    fixture: \"yes\"\ndata:\n  a: \"1\"\n";
    const CREATE_CM: &str =
        "/api/v1/namespaces/demo/configmaps?fieldManager=kubewasm&fieldValidation=Strict";
    const CM: &str = "/api/v1/namespaces/demo/configmaps/fixture-cm";

    #[test]
    fn create_from_file_prints_kubectl_message_and_sends_json() {
        let mut t = FakeTransport::new().fixture(
            CREATE_CM,
            include_str!("../../../tests/fixtures/create-configmap-201.http"),
        );
        let run = run_files(
            &["create", "-f", "cm.yaml", "-n", "demo"],
            &mut t,
            &[("cm.yaml", CM_YAML)],
        );
        assert_eq!(
            (run.code, run.out.as_str(), run.err.as_str()),
            (0, "configmap/fixture-cm created\n", "")
        );
        let request = &t.requests[0];
        assert_eq!(request.method.as_str(), "POST");
        assert_eq!(request.header("content-type"), Some("application/json"));
        let body: serde_json::Value =
            serde_json::from_slice(request.body.as_deref().unwrap_or_default()).unwrap();
        assert_eq!(body["metadata"]["labels"]["fixture"], "yes");
        assert_eq!(body["data"]["a"], "1");
    }

    #[test]
    fn create_reads_multi_document_stdin_and_reports_each_failure_at_the_end() {
        let input = format!(
            "{CM_YAML}---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: demo-00001\nspec:\n  containers: [{{name: c, image: registry.k8s.io/pause:3.10}}]\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: Invalid_Name\nspec:\n  containers: []\n"
        );
        let pods = "/api/v1/namespaces/default/pods?fieldManager=kubewasm&fieldValidation=Strict";
        let mut t = FakeTransport::new()
            .fixture(
                "/api/v1/namespaces/default/configmaps?fieldManager=kubewasm&fieldValidation=Strict",
                include_str!("../../../tests/fixtures/create-configmap-201.http"),
            )
            .fixture(pods, include_str!("../../../tests/fixtures/error-409-create-existing-pod.http"))
            .fixture(pods, include_str!("../../../tests/fixtures/error-422-invalid-pod.http"));
        let run = run_files(&["create", "-f", "-"], &mut t, &[("-", &input)]);
        assert_eq!(run.code, 1);
        assert_eq!(run.out, "configmap/fixture-cm created\n");
        assert_eq!(
            run.err,
            "Error from server (AlreadyExists): error when creating \"STDIN\": pods \"demo-00001\" already exists\n\
             The Pod \"Invalid_Name\" is invalid: \n\
             * metadata.name: Invalid value: \"Invalid_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')\n\
             * spec.containers: Required value\n"
        );
    }

    #[test]
    fn create_dry_run_server_asks_for_dry_run_all() {
        let mut t = FakeTransport::new().fixture(
            "/api/v1/namespaces/demo/configmaps?dryRun=All&fieldManager=kubewasm&fieldValidation=Strict",
            include_str!("../../../tests/fixtures/create-configmap-201.http"),
        );
        let run = run_files(
            &["create", "-f", "cm.yaml", "-n", "demo", "--dry-run=server"],
            &mut t,
            &[("cm.yaml", CM_YAML)],
        );
        assert_eq!(run.out, "configmap/fixture-cm created (server dry run)\n");
    }

    #[test]
    fn create_refuses_a_namespace_that_contradicts_the_object() {
        let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: prod\n";
        let mut t = FakeTransport::new();
        let run = run_files(
            &["create", "-f", "x.yaml", "-n", "demo"],
            &mut t,
            &[("x.yaml", yaml)],
        );
        assert_eq!(run.code, 1);
        assert_eq!(
            run.err,
            "error: the namespace from the provided object \"prod\" does not match the namespace \"demo\". You must pass '--namespace=prod' to perform this operation.\n"
        );
        assert!(t.requests.is_empty());
        let run = run_files(&["create", "-f", "missing.yaml"], &mut t, &[]);
        assert_eq!(
            run.err,
            "error: the path \"missing.yaml\" cannot be read: no such file or directory\n"
        );
    }

    #[test]
    fn apply_is_server_side_with_field_manager_and_force() {
        let mut t = FakeTransport::new().fixture(
            &format!("{CM}?fieldManager=kubewasm&fieldValidation=Strict&force=true"),
            include_str!("../../../tests/fixtures/patch-apply-configmap.http"),
        );
        let run = run_files(
            &[
                "apply",
                "--server-side",
                "-f",
                "cm.yaml",
                "-n",
                "demo",
                "--force-conflicts",
            ],
            &mut t,
            &[("cm.yaml", CM_YAML)],
        );
        assert_eq!(
            (run.code, run.out.as_str()),
            (0, "configmap/fixture-cm serverside-applied\n")
        );
        assert_eq!(t.requests[0].method.as_str(), "PATCH");
        assert_eq!(
            t.requests[0].header("content-type"),
            Some("application/apply-patch+yaml")
        );
    }

    #[test]
    fn apply_conflict_explains_force_conflicts() {
        let conflict = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using v1: .data.a","reason":"Conflict","details":{"causes":[{"reason":"FieldManagerConflict","message":"conflict with \"kubectl-client-side-apply\" using v1","field":".data.a"}]},"code":409}"#;
        let mut t = FakeTransport::new().json(
            &format!("{CM}?fieldManager=kubewasm&fieldValidation=Strict"),
            409,
            conflict,
        );
        let run = run_files(
            &["apply", "-f", "cm.yaml", "-n", "demo"],
            &mut t,
            &[("cm.yaml", CM_YAML)],
        );
        assert_eq!(run.code, 1);
        assert!(run.err.starts_with("error: Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using v1: .data.a\nPlease review the fields above"), "{}", run.err);
        assert!(
            run.err
                .contains("re-run the apply\n  command with the `--force-conflicts` flag.")
        );
    }

    #[test]
    fn delete_prints_kubectl_message() {
        let mut t = FakeTransport::new()
            .fixture(
                CM,
                include_str!("../../../tests/fixtures/delete-configmap-200-status.http"),
            )
            .fixture(
                "/api/v1/namespaces/demo/pods/fixture-pod",
                include_str!("../../../tests/fixtures/delete-pod-200-object.http"),
            )
            .fixture(
                "/api/v1/namespaces/demo/pods/gone",
                include_str!("../../../tests/fixtures/error-404-delete-missing.http"),
            );
        let (code, out, err) = run_with(
            &[
                "delete",
                "cm/fixture-cm",
                "po/fixture-pod",
                "pod/gone",
                "-n",
                "demo",
            ],
            &mut t,
        );
        assert_eq!(code, 1);
        assert_eq!(
            out,
            "configmap \"fixture-cm\" deleted\npod \"fixture-pod\" deleted\n"
        );
        assert_eq!(
            err,
            "Error from server (NotFound): pods \"fixture-pod\" not found\n"
        );
        assert_eq!(t.requests[0].method.as_str(), "DELETE");
        assert_eq!(
            t.requests[0].body.as_deref(),
            Some(&br#"{"propagationPolicy":"Background"}"#[..])
        );
        let (_, out, _) = run_with(
            &[
                "delete",
                "configmaps",
                "fixture-cm",
                "--dry-run=server",
                "-n",
                "demo",
            ],
            &mut FakeTransport::new().fixture(
                &format!("{CM}?dryRun=All"),
                include_str!("../../../tests/fixtures/delete-configmap-200-status.http"),
            ),
        );
        assert_eq!(out, "configmap \"fixture-cm\" deleted (server dry run)\n");
    }

    #[test]
    fn patch_says_patched_or_no_change() {
        let created = include_str!("../../../tests/fixtures/create-configmap-201.http");
        let merged = include_str!("../../../tests/fixtures/patch-merge-configmap.http");
        let patch_path = format!("{CM}?fieldManager=kubewasm&fieldValidation=Strict");
        let mut t = FakeTransport::new()
            .fixture(CM, created)
            .fixture(&patch_path, merged);
        let (code, out, _) = run_with(
            &[
                "patch",
                "configmap",
                "fixture-cm",
                "-n",
                "demo",
                "--type",
                "merge",
                "-p",
                r#"{"data":{"b":"2"}}"#,
            ],
            &mut t,
        );
        assert_eq!((code, out.as_str()), (0, "configmap/fixture-cm patched\n"));
        assert_eq!(
            t.requests[1].header("content-type"),
            Some("application/merge-patch+json")
        );
        assert_eq!(
            t.requests[1].body.as_deref(),
            Some(&br#"{"data":{"b":"2"}}"#[..])
        );
        let mut t = FakeTransport::new()
            .fixture(CM, merged)
            .fixture(&patch_path, merged);
        let (_, out, _) = run_with(
            &[
                "patch",
                "cm/fixture-cm",
                "-n",
                "demo",
                "-p",
                "data: {b: \"2\"}",
            ],
            &mut t,
        );
        assert_eq!(out, "configmap/fixture-cm patched (no change)\n");
        assert_eq!(
            t.requests[1].header("content-type"),
            Some("application/strategic-merge-patch+json")
        );
    }

    #[test]
    fn writes_denied_by_the_host_stop_with_its_message() {
        let mut t =
            FakeTransport::new().deny("DELETE configmaps in demo is not allowed by the policy");
        let (code, out, err) = run_with(&["delete", "cm", "a", "b", "-n", "demo"], &mut t);
        assert_eq!((code, out.as_str()), (1, ""));
        assert_eq!(
            err,
            "error: DELETE configmaps in demo is not allowed by the policy\n"
        );
        assert_eq!(t.requests.len(), 1, "the host's refusal stops the command");
    }

    #[test]
    fn write_argument_errors() {
        let mut t = FakeTransport::new();
        for (args, message) in [
            (&["create"][..], "error: must specify one of -f and -k\n"),
            (
                &["delete", "pods"],
                "error: resource(s) were provided, but no name was specified\n",
            ),
            (
                &["delete"],
                "error: You must provide one or more resources by argument.\n",
            ),
            (&["patch", "cm", "x"], "error: must specify -p to patch\n"),
            (
                &["patch", "cm", "x", "-p", "{}", "--type", "xml"],
                "error: --type must be one of [json merge strategic], not \"xml\"\n",
            ),
            (
                &["apply", "-f", "x", "--dry-run"],
                "error: --dry-run=client is not supported: the guest does not compute objects locally; use --dry-run=server\n",
            ),
            (
                &["apply", "-f", "x", "--server-side=false"],
                "error: client-side apply is not supported: kubewasm always applies server-side\n",
            ),
        ] {
            let (code, _, err) = run_with(args, &mut t);
            assert_eq!((code, err.as_str()), (1, message), "{args:?}");
        }
        assert!(t.requests.is_empty());
    }
}
