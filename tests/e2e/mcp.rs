//! `host mcp` driven by a real MCP client: the official Python SDK (`mcp` on PyPI,
//! pinned in `tests/mcp/requirements.txt`; `tests/mcp/client.py` is the agent) over
//! stdio, or streamable HTTP, against the fake API server.
//!
//! The hostile-agent tests replay the attacks public MCP servers for Kubernetes fell to
//! (README, "MCP server"): each is tried under the default policy and under a Role, and
//! each must come back as a tool error with the reason, with nothing reaching the server
//! and no credential in anything the agent saw.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{
    ADMIN_TOKEN, ADVERSARY_GUEST, Cluster, GUEST, cache_dir, host, host_bin, run_with_limit,
};

/// The Role an operator would hand an agent that looks after the `demo` namespace: the
/// README's example policy.
const AGENT_ROLE: &str = include_str!("../../examples/mcp/policy.yaml");

/// The same Role, also allowed to create ConfigMaps.
const CONFIGMAP_WRITER_ROLE: &str = "\
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: agent
  namespace: demo
rules:
- apiGroups: [\"\"]
  resources: [\"pods\", \"configmaps\"]
  verbs: [\"get\", \"list\", \"create\"]
";

/// The Python the MCP SDK is installed in: `$KUBEWASM_MCP_PYTHON`, else the virtualenv
/// test.sh makes in the target directory.
fn python() -> PathBuf {
    if let Some(python) = std::env::var_os("KUBEWASM_MCP_PYTHON") {
        return python.into();
    }
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is inside the target directory");
    let python = target.join("mcp-venv/bin/python");
    assert!(
        python.exists(),
        "{python:?} does not exist: run ./test.sh, which installs the MCP Python SDK there \
         (python3 -m venv {venv:?} && {venv:?}/bin/pip install -r tests/mcp/requirements.txt), \
         or set KUBEWASM_MCP_PYTHON to a Python that has it",
        venv = target.join("mcp-venv"),
    );
    python
}

fn client_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("mcp/client.py")
}

/// What the agent saw in one session: the server's tools and instructions, and one
/// result per call.
struct Seen {
    raw: String,
    value: Value,
}

impl Seen {
    fn tools(&self) -> &Vec<Value> {
        self.value["tools"].as_array().expect("tools listed")
    }

    fn tool(&self, name: &str) -> &Value {
        self.tools()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("no tool {name} in {}", self.raw))
    }

    fn result(&self, i: usize) -> &Value {
        &self.value["results"][i]
    }

    fn text(&self, i: usize) -> &str {
        self.result(i)["text"]
            .as_str()
            .unwrap_or_else(|| panic!("call {i} has no text result: {}", self.result(i)))
    }

    /// Call `i` failed as a tool error (not a protocol error) whose text says `why`.
    fn refused(&self, i: usize, why: &str) -> &str {
        let result = self.result(i);
        assert_eq!(
            result["is_error"], true,
            "call {i} was not refused: {result}"
        );
        let text = self.text(i);
        assert!(text.contains(why), "call {i} does not say {why:?}:\n{text}");
        text
    }

    /// Call `i` succeeded.
    fn ok(&self, i: usize) -> &str {
        let result = self.result(i);
        assert_eq!(result["is_error"], false, "call {i} failed: {result}");
        self.text(i)
    }
}

/// An MCP client session with `host mcp --kubeconfig K HOST-FLAGS... GUEST.wasm`.
fn agent(cluster: &Cluster, host_flags: &[&str], calls: &[(&str, Value)]) -> Seen {
    agent_in_mode(cluster, host_flags, calls, "legacy")
}

fn agent_in_mode(
    cluster: &Cluster,
    host_flags: &[&str],
    calls: &[(&str, Value)],
    mode: &str,
) -> Seen {
    let mut command = vec![
        host_bin().to_str().unwrap().to_string(),
        "mcp".to_string(),
        "--kubeconfig".to_string(),
        cluster.kubeconfig.to_str().unwrap().to_string(),
    ];
    command.extend(host_flags.iter().map(|f| f.to_string()));
    command.push(GUEST.to_string());
    let spec = json!({
        "command": command,
        "env": {
            "HOME": cluster.home.path(),
            "KUBEWASM_CACHE_DIR": cache_dir(),
            "KUBEWASM_OPTIMIZE_FIRST_RUN": "true",
            "KUBECONFIG": "",
        },
        "mode": mode,
        "calls": calls.iter().map(|(tool, arguments)| json!({"tool": tool, "arguments": arguments})).collect::<Vec<_>>(),
    });
    python_client(&spec)
}

fn python_client(spec: &Value) -> Seen {
    let spec_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(spec_file.path(), spec.to_string()).unwrap();
    let mut cmd = Command::new(python());
    cmd.arg(client_script())
        .stdin(Stdio::from(std::fs::File::open(spec_file.path()).unwrap()));
    let out = run_with_limit(cmd, Duration::from_secs(180));
    assert_eq!(out.code(), 0, "the MCP client failed: {out:?}");
    let value: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("the MCP client printed no JSON ({e}): {out:?}"));
    Seen {
        raw: out.stdout,
        value,
    }
}

fn write_policy(cluster: &Cluster, yaml: &str) -> String {
    let path = cluster.home.path().join("policy.yaml");
    std::fs::write(&path, yaml).unwrap();
    path.to_str().unwrap().to_string()
}

/// Runs the same calls under the default policy and under [`AGENT_ROLE`], with the
/// adversary guest as a script tool, and hands each session to `check`. Afterwards,
/// nothing the agent saw holds the credential, and the server got none of `never`.
fn under_both_policies(calls: &[(&str, Value)], never: &[&str], check: impl Fn(&str, &Seen)) {
    for policy in ["default", "role"] {
        let cluster = Cluster::admin();
        let policy_path = write_policy(&cluster, AGENT_ROLE);
        let tool = format!("adversary={ADVERSARY_GUEST}");
        let mut flags = vec!["--tool", tool.as_str()];
        if policy == "role" {
            flags.extend(["--policy", policy_path.as_str()]);
        }
        let seen = agent(&cluster, &flags, calls);
        check(policy, &seen);
        assert_no_credential(&cluster, &seen);
        for request in cluster.server.requests() {
            for word in never {
                assert!(
                    !request.path_and_query.contains(word),
                    "under the {policy} policy the server got {} {}",
                    request.method,
                    request.path_and_query
                );
            }
        }
    }
}

/// Nothing the agent saw (tools, instructions, results) holds the token, the CA, or
/// where the kubeconfig is.
fn assert_no_credential(cluster: &Cluster, seen: &Seen) {
    for secret in [
        ADMIN_TOKEN,
        cluster.kubeconfig.to_str().unwrap(),
        "BEGIN CERTIFICATE",
        "certificate-authority",
        "client-key",
    ] {
        assert!(
            !seen.raw.contains(secret),
            "the agent saw {secret:?}: {}",
            seen.raw
        );
    }
}

fn kubectl(args: &[&str]) -> (&'static str, Value) {
    ("kubectl", json!({ "args": args }))
}

fn adversary(args: &[&str]) -> (&'static str, Value) {
    ("adversary", json!({ "args": args }))
}

#[test]
fn lists_tools_whose_hints_say_read_only_under_the_default_policy() {
    let cluster = Cluster::admin();
    let seen = agent(&cluster, &[], &[]);
    let names: Vec<&str> = seen
        .tools()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["kubectl", "get", "describe", "logs", "api_resources"]
    );
    for tool in seen.tools() {
        assert_eq!(tool["annotations"]["readOnlyHint"], true, "{tool}");
        assert_eq!(tool["annotations"]["destructiveHint"], false, "{tool}");
        assert_eq!(tool["inputSchema"]["type"], "object", "{tool}");
        assert!(
            tool["outputSchema"]["properties"]["exitCode"].is_object(),
            "{tool}"
        );
    }
    let instructions = seen.value["instructions"].as_str().unwrap();
    assert!(instructions.contains("read-only"), "{instructions}");
    assert!(
        instructions.contains(&cluster.server.url()),
        "{instructions}"
    );
    // Tools only: no resource or prompt that could hand out a file.
    assert!(seen.value["resources"]["error"].is_string(), "{}", seen.raw);
    assert!(seen.value["prompts"]["error"].is_string(), "{}", seen.raw);
    assert_no_credential(&cluster, &seen);
}

#[test]
fn command_tools_are_not_read_only_when_the_policy_allows_writes() {
    let cluster = Cluster::admin();
    let creator = write_policy(&cluster, CONFIGMAP_WRITER_ROLE);
    let tool = format!("script={ADVERSARY_GUEST}");
    let seen = agent(&cluster, &["--policy", &creator, "--tool", &tool], &[]);
    for name in ["kubectl", "script"] {
        let hints = &seen.tool(name)["annotations"];
        assert_eq!(hints["readOnlyHint"], false, "{name}: {hints}");
        assert_eq!(hints["destructiveHint"], false, "create only adds: {hints}");
    }
    // Typed tools send GETs whatever the policy.
    assert_eq!(seen.tool("get")["annotations"]["readOnlyHint"], true);

    let seen = agent(&cluster, &["--policy", "unrestricted"], &[]);
    let hints = &seen.tool("kubectl")["annotations"];
    assert_eq!(hints["readOnlyHint"], false, "{hints}");
    assert_eq!(hints["destructiveHint"], true, "{hints}");
}

#[test]
fn every_tool_answers_against_the_fake_server() {
    let cluster = Cluster::admin();
    let tool = format!("adversary={ADVERSARY_GUEST}");
    let seen = agent(
        &cluster,
        &["--tool", &tool],
        &[
            kubectl(&["get", "pods", "-n", "demo"]),
            (
                "get",
                json!({"resource": "pods", "namespace": "demo", "output": "name"}),
            ),
            (
                "describe",
                json!({"resource": "pod", "name": "demo-00001", "namespace": "demo"}),
            ),
            (
                "logs",
                json!({"pod": "demo-00001", "namespace": "demo", "tailLines": 2}),
            ),
            ("api_resources", json!({"apiGroup": "apps"})),
            adversary(&["request", "GET", "/version"]),
            (
                "get",
                json!({"resource": "deploy", "allNamespaces": true, "output": "json"}),
            ),
        ],
    );
    assert!(seen.ok(0).contains("demo-00001"), "{}", seen.text(0));
    assert!(
        seen.ok(1).lines().any(|l| l == "pod/demo-00001"),
        "{}",
        seen.text(1)
    );
    let described = seen.ok(2);
    assert!(
        described.starts_with("apiVersion: v1\nkind: Pod\n"),
        "{described}"
    );
    let log = seen.ok(3);
    assert_eq!(log.lines().count(), 2, "{log}");
    assert!(seen.ok(4).contains("deployments"), "{}", seen.text(4));
    assert_eq!(seen.ok(5).trim(), "status 200");
    let structured = &seen.result(6)["structured"];
    assert_eq!(structured["exitCode"], 0, "{structured}");
    let list: Value = serde_json::from_str(structured["stdout"].as_str().unwrap()).unwrap();
    assert_eq!(list["kind"], "List");
    assert_no_credential(&cluster, &seen);
}

#[test]
fn works_with_a_client_that_discovers_the_server_first() {
    let cluster = Cluster::admin();
    let seen = agent_in_mode(&cluster, &[], &[kubectl(&["version"])], "auto");
    assert!(seen.ok(0).contains("Server Version"), "{}", seen.text(0));
}

#[test]
fn a_denied_request_is_a_tool_error_with_the_rule_that_would_allow_it() {
    let cluster = Cluster::admin();
    let role = write_policy(&cluster, AGENT_ROLE);
    let seen = agent(
        &cluster,
        &["--policy", &role],
        &[
            (
                "get",
                json!({"resource": "pods", "namespace": "kube-system"}),
            ),
            kubectl(&["delete", "pod", "demo-00001"]),
        ],
    );
    let text = seen.refused(0, "denied: list pods in namespace \"kube-system\"");
    assert!(
        text.contains("kind: Role") && text.contains("resources: [\"pods\"]\n  verbs: [\"list\"]"),
        "{text}"
    );
    let text = seen.refused(1, "denied: delete pods \"demo-00001\"");
    assert!(text.contains("verbs: [\"delete\"]"), "{text}");
    assert_eq!(seen.result(1)["structured"]["exitCode"], 1);
}

#[test]
fn refuses_arguments_that_are_flags_or_of_the_wrong_shape() {
    let cluster = Cluster::admin();
    let seen = agent(
        &cluster,
        &[],
        &[
            (
                "get",
                json!({"resource": "--raw", "name": "/api/v1/namespaces/demo/secrets"}),
            ),
            ("get", json!({"resource": "pods", "verb": "delete"})),
            ("logs", json!({"pod": "demo-00001", "tailLines": 1_000_000})),
            ("no_such_tool", json!({})),
        ],
    );
    seen.refused(0, "resource must not start with '-'");
    seen.refused(1, "unknown field `verb`");
    seen.refused(2, "tailLines must be 1 to 10000");
    let unknown = &seen.result(3)["error"];
    assert!(
        unknown.as_str().unwrap().contains("no tool named"),
        "{unknown}"
    );
    assert!(cluster.paths().iter().all(|p| !p.contains("secrets")));
}

#[test]
fn a_watch_ends_when_the_call_time_is_up_with_what_it_printed() {
    let cluster = Cluster::admin();
    let seen = agent(
        &cluster,
        &["--max-call-seconds", "30"],
        &[
            (
                "get",
                json!({"resource": "pods", "namespace": "demo", "watch": true, "timeoutSeconds": 1}),
            ),
            kubectl(&["logs", "-f", "demo-00001", "-n", "demo"]),
        ],
    );
    let watched = seen.ok(0);
    assert!(watched.contains("demo-00001"), "{watched}");
    assert!(
        watched.contains("stopped: stopped after 1s (timeoutSeconds)"),
        "{watched}"
    );
    assert_eq!(seen.result(0)["structured"]["exitCode"], Value::Null);

    // A log that keeps being written, a line a second.
    let cluster = Cluster::start_with(
        kubewasm_tests::ServerConfig {
            log_follow_lines: 1000,
            ..kubewasm_tests::ServerConfig::default()
        },
        ADMIN_TOKEN,
    );
    let seen = agent(
        &cluster,
        &["--max-call-seconds", "1"],
        &[kubectl(&["logs", "-f", "demo-00001", "-n", "demo"])],
    );
    let followed = seen.ok(0);
    assert!(followed.contains("from demo/demo-00001"), "{followed}");
    assert!(followed.contains("(--max-call-seconds)"), "{followed}");
}

#[test]
fn output_past_the_limit_is_cut_and_said_so() {
    let cluster = Cluster::admin();
    let seen = agent(
        &cluster,
        &["--max-output-bytes", "300"],
        &[kubectl(&["get", "pods", "-n", "demo"])],
    );
    let structured = &seen.result(0)["structured"];
    assert_eq!(
        structured["stdout"].as_str().unwrap().len(),
        300,
        "{structured}"
    );
    assert!(
        structured["stopped"]
            .as_str()
            .unwrap()
            .contains("--max-output-bytes"),
        "{structured}"
    );
}

#[test]
fn audit_lines_name_the_mcp_call_and_suggest_the_role_the_agent_needed() {
    let cluster = Cluster::admin();
    let audit = cluster.home.path().join("agent.jsonl");
    let seen = agent(
        &cluster,
        &["--audit", audit.to_str().unwrap()],
        &[
            ("get", json!({"resource": "pods", "namespace": "demo"})),
            kubectl(&["get", "secrets", "-n", "demo"]),
            kubectl(&["config", "view"]),
        ],
    );
    seen.ok(0);
    let text = std::fs::read_to_string(&audit).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let list = lines
        .iter()
        .find(|l| l["resource"] == "pods" && l["verb"] == "list")
        .unwrap_or_else(|| panic!("no pods list in {text}"));
    assert_eq!(list["mcp"]["tool"], "get", "{text}");
    assert!(list["mcp"]["request_id"].is_number(), "{text}");
    let denied = lines.iter().find(|l| l["resource"] == "secrets").unwrap();
    assert_eq!(denied["decision"], "deny");
    assert_eq!(denied["mcp"]["tool"], "kubectl");
    assert_ne!(denied["mcp"]["request_id"], list["mcp"]["request_id"]);
    // One line per call, also for the call that sent nothing.
    let calls: Vec<&Value> = lines.iter().filter(|l| l["event"] == "mcp-call").collect();
    assert_eq!(calls.len(), 3, "{text}");
    assert_eq!(calls[2]["arguments"], r#"{"args":["config","view"]}"#);
    assert_eq!(calls[2]["exit_code"], 1);

    let suggested = crate::harness::run({
        let mut cmd = host(cluster.home.path());
        cmd.args(["policy", "suggest", "--audit"]).arg(&audit);
        cmd
    });
    assert_eq!(suggested.code(), 0, "{suggested:?}");
    assert!(
        suggested.stdout.contains("kind: Role"),
        "{}",
        suggested.stdout
    );
    assert!(
        suggested.stdout.contains("resources: [\"secrets\"]"),
        "{}",
        suggested.stdout
    );
}

#[test]
fn serves_streamable_http_only_with_the_bearer_token() {
    let cluster = Cluster::admin();
    let token_file = cluster.home.path().join("token");
    let token = "e2e-mcp-token-0123456789";
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let mut child = host(cluster.home.path())
        .args(["mcp", "--kubeconfig"])
        .arg(&cluster.kubeconfig)
        .args(["--listen", "127.0.0.1:0", "--token-file"])
        .arg(&token_file)
        .arg(GUEST)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn host mcp");
    let lines = crate::harness::lines_in_background(child.stderr.take().unwrap(), |l| l);
    let url = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(120))
            .expect("host mcp printed where it listens");
        if let Some(url) = line.strip_prefix("host mcp: serving MCP at ") {
            break url.to_string();
        }
    };
    let seen = python_client(&json!({
        "url": url, "token": token,
        "calls": [{"tool": "get", "arguments": {"resource": "pods", "namespace": "demo"}}],
    }));
    assert!(seen.ok(0).contains("demo-00001"));

    // Without the token, or with another, the MCP layer is never reached.
    let port = url
        .trim_start_matches("http://127.0.0.1:")
        .trim_end_matches("/mcp");
    let status = |auth: Option<&str>| {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
        let auth = auth
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
        write!(
            stream,
            "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        response.lines().next().unwrap_or_default().to_string()
    };
    assert!(status(None).contains("401"), "{}", status(None));
    assert!(status(Some("Bearer wrong-token-0123456789")).contains("401"));
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn refuses_to_listen_beyond_loopback_unless_told() {
    let cluster = Cluster::admin();
    let token_file = cluster.home.path().join("token");
    std::fs::write(&token_file, "e2e-mcp-token-0123456789").unwrap();
    let out = crate::harness::run({
        let mut cmd = host(cluster.home.path());
        cmd.args(["mcp", "--listen", "0.0.0.0:0", "--token-file"])
            .arg(&token_file)
            .arg(GUEST);
        cmd
    });
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(out.stderr.contains("not a loopback address"), "{out:?}");
    let out = crate::harness::run({
        let mut cmd = host(cluster.home.path());
        cmd.args(["mcp", "--listen", "127.0.0.1:0"]).arg(GUEST);
        cmd
    });
    assert_ne!(out.code(), 0, "--listen without --token-file: {out:?}");
    assert!(out.stderr.contains("--token-file"), "{out:?}");
}

// The attacks public Kubernetes MCP servers fell to, each under both policies.

/// containers/kubernetes-mcp-server#1415: read-only mode, and the agent read the
/// kubeconfig through a configuration tool and ran kubectl with it.
#[test]
fn hostile_agent_cannot_export_the_kubeconfig() {
    under_both_policies(
        &[
            kubectl(&["config", "view", "--raw"]),
            kubectl(&[
                "--kubeconfig",
                "/etc/kubernetes/admin.conf",
                "get",
                "secrets",
            ]),
            adversary(&["read-file", "/root/.kube/config"]),
            adversary(&["env"]),
        ],
        &["secrets"],
        |policy, seen| {
            let text = seen.refused(0, "unknown command \"config\"");
            assert!(text.contains("stay with the host"), "{policy}: {text}");
            seen.refused(1, "unknown flag: --kubeconfig");
            // The sandbox has no filesystem and no environment to find one in.
            assert!(
                seen.ok(2).starts_with("error:"),
                "{policy}: {}",
                seen.text(2)
            );
            assert_eq!(seen.ok(3).trim(), "", "{policy}");
        },
    );
}

/// Azure/mcp-kubernetes#126: `kubectl proxy` classified as read-only.
#[test]
fn hostile_agent_cannot_open_a_proxy() {
    under_both_policies(
        &[
            kubectl(&["proxy", "--port", "8001"]),
            kubectl(&[
                "get",
                "--raw",
                "/api/v1/namespaces/demo/services/web:80/proxy/admin",
            ]),
            kubectl(&["get", "--raw", "/api/v1/nodes/node-1/proxy/run"]),
            adversary(&["connect", "127.0.0.1:8001"]),
        ],
        &["proxy"],
        |policy, seen| {
            seen.refused(0, "unknown command \"proxy\"");
            seen.refused(
                1,
                "denied: get services/proxy \"web:80\" in namespace \"demo\"",
            );
            seen.refused(2, "denied: get nodes/proxy \"node-1\" cluster-wide");
            assert!(
                seen.ok(3).starts_with("error:"),
                "{policy}: {}",
                seen.text(3)
            );
        },
    );
}

/// Azure/mcp-kubernetes#126 and Flux159/mcp-server-kubernetes#288: exec and cp (cp is
/// exec running tar) classified as read-only or used to reach secrets.
#[test]
fn hostile_agent_cannot_exec_or_cp() {
    under_both_policies(
        &[
            kubectl(&[
                "exec",
                "demo-00001",
                "--",
                "cat",
                "/var/run/secrets/kubernetes.io/serviceaccount/token",
            ]),
            kubectl(&["cp", "demo-00001:/etc/passwd", "/tmp/passwd"]),
            adversary(&[
                "request",
                "POST",
                "/api/v1/namespaces/demo/pods/demo-00001/exec?command=sh&stdin=true",
            ]),
            adversary(&[
                "request",
                "GET",
                "/api/v1/namespaces/demo/pods/demo-00001/exec?command=tar&command=cf&command=-",
            ]),
            adversary(&[
                "request",
                "POST",
                "/api/v1/namespaces/demo/pods/demo-00001/attach?stdin=true",
            ]),
        ],
        &["exec", "attach"],
        |policy, seen| {
            seen.refused(0, "unknown command \"exec\"");
            seen.refused(1, "unknown command \"cp\"");
            for (i, what) in [
                (2, "create pods/exec"),
                (3, "get pods/exec"),
                (4, "create pods/attach"),
            ] {
                let text = seen.ok(i);
                assert!(
                    text.contains("error denied") && text.contains(what),
                    "{policy}: {text}"
                );
            }
        },
    );
}

/// Flux159/mcp-server-kubernetes#288: secrets read through a generic kubectl tool,
/// around the masking of the secrets tool.
#[test]
fn hostile_agent_cannot_read_secrets_through_the_generic_tool() {
    under_both_policies(
        &[
            kubectl(&["get", "secrets", "-n", "demo", "-o", "yaml"]),
            kubectl(&[
                "get",
                "secret/db-password",
                "-n",
                "demo",
                "-o",
                "jsonpath={.data}",
            ]),
            kubectl(&["get", "--raw", "/api/v1/namespaces/kube-system/secrets"]),
            kubectl(&["get", "secrets", "-A"]),
            ("get", json!({"resource": "secrets", "namespace": "demo"})),
            (
                "describe",
                json!({"resource": "secret", "name": "db-password", "namespace": "demo"}),
            ),
            adversary(&[
                "request",
                "GET",
                "/api/v1/namespaces/demo/secrets/db-password",
            ]),
        ],
        &["secrets"],
        |policy, seen| {
            for i in 0..6 {
                let text = seen.refused(i, "denied:");
                assert!(text.contains("secrets"), "{policy}: {text}");
                if policy == "default" {
                    assert!(text.contains("never allows secrets"), "{text}");
                }
            }
            assert!(
                seen.ok(6).contains("error denied"),
                "{policy}: {}",
                seen.text(6)
            );
        },
    );
}

/// Flux159/mcp-server-kubernetes#288: a secret copied into a ConfigMap, which the
/// masking did not cover. Reading it is refused; writing the ConfigMap is refused too.
#[test]
fn hostile_agent_cannot_copy_secrets_into_a_configmap() {
    let configmap = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: loot\n  namespace: demo\ndata:\n  token: c2VjcmV0\n";
    under_both_policies(
        &[
            kubectl(&["get", "secret", "db-password", "-n", "demo", "-o", "json"]),
            (
                "kubectl",
                json!({"args": ["create", "-f", "-"], "stdin": configmap}),
            ),
            (
                "kubectl",
                json!({"args": ["apply", "-f", "-"], "stdin": configmap}),
            ),
        ],
        &["secrets", "loot"],
        |policy, seen| {
            seen.refused(0, "denied: get secrets \"db-password\"");
            let text = seen.refused(1, "denied: create configmaps in namespace \"demo\"");
            assert!(text.contains("verbs: [\"create\"]"), "{policy}: {text}");
            seen.refused(2, "denied: patch configmaps \"loot\"");
        },
    );
    // A Role that may create ConfigMaps still cannot read the secret to copy.
    let cluster = Cluster::admin();
    let role = write_policy(&cluster, CONFIGMAP_WRITER_ROLE);
    let seen = agent(
        &cluster,
        &["--policy", &role],
        &[kubectl(&[
            "get",
            "secret",
            "db-password",
            "-n",
            "demo",
            "-o",
            "json",
        ])],
    );
    seen.refused(0, "denied: get secrets \"db-password\"");
}

/// Binding cluster-admin to the agent's own identity: privilege escalation in one create.
#[test]
fn hostile_agent_cannot_bind_cluster_admin_to_itself() {
    let binding = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: agent-admin\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: cluster-admin\nsubjects:\n- kind: User\n  name: kubewasm-demo\n";
    under_both_policies(
        &[
            (
                "kubectl",
                json!({"args": ["create", "-f", "-"], "stdin": binding}),
            ),
            adversary(&[
                "request",
                "POST",
                "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
            ]),
            adversary(&[
                "request",
                "GET",
                "/api/v1/namespaces/demo/pods",
                "Impersonate-User=system:admin",
            ]),
        ],
        &["clusterrolebindings", "secrets"],
        |policy, seen| {
            let text = seen.refused(
                0,
                "denied: create clusterrolebindings.rbac.authorization.k8s.io",
            );
            assert!(
                text.contains("kind: ClusterRole") || text.contains("ClusterRole:"),
                "{policy}: {text}"
            );
            assert!(
                seen.ok(1).contains("error denied"),
                "{policy}: {}",
                seen.text(1)
            );
            let text = seen.ok(2);
            assert!(
                text.contains("error invalid-request") && text.contains("impersonate"),
                "{policy}: {text}"
            );
        },
    );
}

/// GoogleCloudPlatform/kubectl-ai#684 (a read-only mode by re-parsing command lines):
/// paths and headers that read one way to a parser and another to the server.
#[test]
fn hostile_agent_cannot_use_path_or_header_tricks() {
    under_both_policies(
        &[
            kubectl(&["get", "--raw", "/api/v1/namespaces/demo/pods/../secrets"]),
            kubectl(&["get", "--raw", "/api/v1/namespaces/x/secrets/..%2f"]),
            kubectl(&[
                "get",
                "--raw",
                "/api/v1/namespaces/demo/pods/%2e%2e/secrets",
            ]),
            kubectl(&[
                "get",
                "--raw",
                "/api/v1/namespaces/demo/pods?watch=false&watch=true",
            ]),
            adversary(&[
                "request",
                "GET",
                "/api/v1/namespaces/demo/pods",
                "X-HTTP-Method-Override=DELETE",
            ]),
            adversary(&[
                "request",
                "GET",
                "/api/v1/namespaces/demo/pods",
                "Authorization=Bearer stolen",
            ]),
        ],
        &["secrets", "..", "%2"],
        |policy, seen| {
            let _ = policy;
            seen.refused(0, "\"..\" segment");
            seen.refused(1, "encoded slash");
            seen.refused(2, "refused");
            seen.refused(3, "\"watch\"");
            for i in [4, 5] {
                let text = seen.ok(i);
                assert!(text.contains("error invalid-request"), "{policy}: {text}");
            }
        },
    );
}
