//! Watches and followed logs print as data arrives; closing stdout or Ctrl-C ends the
//! run cleanly.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use kubewasm_tests::ServerConfig;

use crate::harness::{ADMIN_TOKEN, Cluster, GUEST, lines_in_background, wait_with_limit};

/// Spawns `args` and collects each stdout line with the time it arrived.
fn timed_lines(cluster: &Cluster, args: &[&str]) -> (Vec<(Instant, String)>, Instant, i32) {
    let mut child = cluster.spawn_guest(args, Stdio::inherit());
    let rx = lines_in_background(child.stdout.take().unwrap(), timed);
    let status = wait_with_limit(&mut child, Duration::from_secs(60));
    let exited = Instant::now();
    // Collecting waits for the reader to reach the end of the output.
    (
        rx.into_iter().collect(),
        exited,
        status.code().unwrap_or(-1),
    )
}

/// Stamps a line with the time it was read.
fn timed(line: String) -> (Instant, String) {
    (Instant::now(), line)
}

/// Spawns `get pods -w` with stdout and stderr piped and reads the first line (the
/// table header, printed once the list is in). Returns the host, the rest of its stdout
/// (for the test to keep open or close), and that line.
fn watch_started(cluster: &Cluster) -> (Child, BufReader<ChildStdout>, String) {
    watch_started_by(cluster.guest(GUEST, &["get", "pods", "-w"]))
}

/// [`watch_started`] for a `get pods -w` command the caller has set up.
fn watch_started_by(mut command: Command) -> (Child, BufReader<ChildStdout>, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn host");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    (child, stdout, first)
}

/// All a finished host wrote to its piped stderr.
fn stderr_of(child: &mut Child) -> String {
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    stderr
}

fn slow_stream_cluster() -> Cluster {
    Cluster::start_with(
        ServerConfig {
            watch_event_interval: Duration::from_millis(400),
            log_lines: 5,
            ..ServerConfig::default()
        },
        ADMIN_TOKEN,
    )
}

#[test]
fn watch_prints_each_event_while_the_stream_is_still_open() {
    let cluster = slow_stream_cluster();
    let mut child = cluster.spawn_guest(&["get", "pods", "-w"], Stdio::inherit());
    let rx = lines_in_background(child.stdout.take().unwrap(), timed);
    // A watch that survives the server closing it does not end by itself: read until
    // five events have been printed, then stop it.
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while lines
        .iter()
        .filter(|(_, l): &&(Instant, String)| l.starts_with("watch-demo"))
        .count()
        < 5
    {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => lines.push(line),
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let events: Vec<&(Instant, String)> = lines
        .iter()
        .filter(|(_, l)| l.starts_with("watch-demo"))
        .collect();
    assert!(events.len() >= 5, "expected watch events, got {lines:?}");
    // The server sends an event every 400 ms: printed one by one, the first appears well
    // before the fifth, not all together when the stream ends.
    let spread = events[4].0.duration_since(events[0].0);
    assert!(
        spread >= Duration::from_millis(1200),
        "events arrived together ({spread:?})"
    );
    // Header once, from the initial list; events reuse its columns.
    assert_eq!(
        lines.iter().filter(|(_, l)| l.starts_with("NAME")).count(),
        1,
        "{lines:?}"
    );
    let watch = cluster
        .paths()
        .into_iter()
        .find(|p| p.contains("watch=true") || p.contains("watch=1"))
        .expect("a watch request");
    assert!(watch.contains("resourceVersion=8384"), "{watch}");
}

#[test]
fn logs_follow_prints_lines_as_they_arrive() {
    let cluster = slow_stream_cluster();
    let (lines, exited, code) = timed_lines(&cluster, &["logs", "-f", "demo-00001"]);
    assert_eq!(code, 0, "{lines:?}");
    assert_eq!(lines.len(), 5, "{lines:?}");
    let first = lines[0].0;
    assert!(
        exited.duration_since(first) >= Duration::from_millis(800),
        "first line printed only {:?} before exit",
        exited.duration_since(first)
    );
    let log = cluster
        .paths()
        .into_iter()
        .find(|p| p.contains("/log"))
        .expect("a log request");
    assert!(
        log.starts_with("/api/v1/namespaces/demo/pods/demo-00001/log"),
        "{log}"
    );
    assert!(log.contains("follow=true"), "{log}");
}

#[test]
fn logs_with_container_and_tail_pass_them_to_the_server() {
    let cluster = Cluster::admin();
    let out = cluster.kubectl(&["logs", "-c", "main", "--tail", "2", "demo-00001"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout.lines().count(), 2, "{out:?}");
    let log = cluster
        .paths()
        .into_iter()
        .find(|p| p.contains("/log"))
        .unwrap();
    assert!(
        log.contains("container=main") && log.contains("tailLines=2"),
        "{log}"
    );
}

#[test]
fn closing_stdout_ends_a_watch_quietly() {
    let cluster = slow_stream_cluster();
    let (mut child, stdout, first) = watch_started(&cluster);
    assert!(first.starts_with("NAME"), "{first}");
    drop(stdout); // like `| head -1`
    let status = wait_with_limit(&mut child, Duration::from_secs(20));
    let stderr = stderr_of(&mut child);
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("trap"),
        "{stderr}"
    );
}

#[cfg(unix)]
#[test]
fn ctrl_c_ends_a_watch_promptly() {
    let cluster = Cluster::start_with(
        ServerConfig {
            watch_event_interval: Duration::from_secs(5),
            ..ServerConfig::default()
        },
        ADMIN_TOKEN,
    );
    // The watch is open once the header is printed; stdout stays open until the end.
    let mut command = cluster.guest(GUEST, &["get", "pods", "-w"]);
    // A shell starts a background job with SIGINT ignored, and the host keeps that, as
    // every program does (it is how `cmd &` survives the terminal's Ctrl-C). A suite run
    // that way must still send this host a Ctrl-C it acts on.
    // SAFETY: `signal` is async-signal-safe, as code between fork and exec must be.
    unsafe {
        use std::os::unix::process::CommandExt;
        command.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        });
    }
    let (mut child, _stdout, _header) = watch_started_by(command);
    let sent = Instant::now();
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = wait_with_limit(&mut child, Duration::from_secs(5));
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "took {:?}",
        sent.elapsed()
    );
    let stderr = stderr_of(&mut child);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!status.success());
}
