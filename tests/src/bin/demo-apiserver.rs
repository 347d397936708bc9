//! `demo-apiserver`: the bundled fake cluster for trying kubewasm without a real one.
//!
//! Starts the fake kube-apiserver (HTTPS, admin bearer token), writes a kubeconfig for it
//! (context `kubewasm-demo`, namespace `demo`), prints the server URL on stdout and runs until
//! SIGTERM or SIGINT. (It does not watch stdin: a backgrounded shell job's stdin is
//! `/dev/null`, which `run.sh` relies on.)

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use kubewasm_tests::{BulkPods, FakeApiServer, KubeconfigAuth, MAX_BULK_PODS, ServerConfig};

const USAGE: &str = "usage: demo-apiserver --kubeconfig-out PATH [--port N] [--ready-file PATH]

Runs a fake Kubernetes API server on 127.0.0.1 that answers with recorded
kube-apiserver v1.36 responses (namespace `demo` with 50 pods, 3 nodes).

  --kubeconfig-out PATH  write a kubeconfig for the server here (required)
  --port N               listen on this port (default: any free port)
  --ready-file PATH      once serving, write the server URL to this file
  --bulk-pods N          also create namespace `bulk` with N pods bulk-00001...,
                         clones of the recorded pods (about 4.3 KB each), for
                         benchmarks; lists then report the version after them
  --watch-churn N        with --bulk-pods: every watch on pods in `bulk` sends N
                         MODIFIED events (cycling through the pods, increasing
                         resourceVersions) as fast as it is read, then ends
  --no-gzip              never gzip responses (by default a response over
                         128 KiB is gzipped when the client accepts gzip, as
                         kube-apiserver does; watches and logs never are)
  --request-work-us N    work N microseconds (busy) on each request before
                         answering it, as a real API server does: benchmarks
                         use it to compare clients at a real server's request
                         rate (default 0)

The URL is printed on stdout. The server stops on SIGTERM or SIGINT.";

struct Args {
    kubeconfig_out: PathBuf,
    port: u16,
    ready_file: Option<PathBuf>,
    bulk_pods: Option<usize>,
    watch_churn: Option<usize>,
    gzip: bool,
    request_work: Option<std::time::Duration>,
}

fn count(flag: &str, v: &str) -> Result<usize> {
    v.parse()
        .with_context(|| format!("{flag} {v:?} is not a count"))
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Args>> {
    let mut kubeconfig_out = None;
    let mut port = 0u16;
    let mut ready_file = None;
    let mut bulk_pods = None;
    let mut watch_churn = None;
    let mut gzip = true;
    let mut request_work = None;
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String> {
            match inline.clone().or_else(|| args.next()) {
                Some(v) if !v.is_empty() => Ok(v),
                _ => bail!("{name} needs a value"),
            }
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--kubeconfig-out" => kubeconfig_out = Some(PathBuf::from(value("--kubeconfig-out")?)),
            "--port" => {
                let v = value("--port")?;
                port = v
                    .parse()
                    .with_context(|| format!("--port {v:?} is not a port number"))?;
            }
            "--ready-file" => ready_file = Some(PathBuf::from(value("--ready-file")?)),
            "--bulk-pods" => {
                let n = count("--bulk-pods", &value("--bulk-pods")?)?;
                if n > MAX_BULK_PODS {
                    bail!("--bulk-pods {n} is more than the {MAX_BULK_PODS} supported");
                }
                bulk_pods = Some(n);
            }
            "--watch-churn" => {
                watch_churn = Some(count("--watch-churn", &value("--watch-churn")?)?)
            }
            "--no-gzip" => gzip = false,
            "--request-work-us" => {
                let us = count("--request-work-us", &value("--request-work-us")?)?;
                request_work = (us > 0).then(|| std::time::Duration::from_micros(us as u64));
            }
            other => bail!("unknown argument {other:?}"),
        }
    }
    let Some(kubeconfig_out) = kubeconfig_out else {
        bail!("--kubeconfig-out is required");
    };
    if watch_churn.is_some() && bulk_pods.is_none() {
        bail!("--watch-churn needs --bulk-pods");
    }
    Ok(Some(Args {
        kubeconfig_out,
        port,
        ready_file,
        bulk_pods,
        watch_churn,
        gzip,
        request_work,
    }))
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("demo-apiserver: {e:#}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo-apiserver: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<()> {
    let started = std::time::Instant::now();
    let server = FakeApiServer::start_on(
        SocketAddr::from(([127, 0, 0, 1], args.port)),
        ServerConfig {
            bulk_pods: args.bulk_pods.map(BulkPods::new),
            watch_churn: args.watch_churn,
            gzip: args.gzip,
            request_work: args.request_work,
            ..ServerConfig::default()
        },
    )?;
    let token = server
        .config()
        .token
        .clone()
        .context("the default configuration has an admin token")?;
    server
        .write_kubeconfig(
            &args.kubeconfig_out,
            KubeconfigAuth::Token(token),
            Some("demo"),
        )
        .with_context(|| format!("writing {}", args.kubeconfig_out.display()))?;
    let url = server.url();
    if let Some(ready) = &args.ready_file {
        // Write then rename, so a watcher never reads a half-written file.
        let tmp = ready.with_extension("tmp");
        std::fs::write(&tmp, format!("{url}\n"))
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, ready).with_context(|| format!("writing {}", ready.display()))?;
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "{url}")?;
    out.flush()?;
    drop(out);
    eprintln!(
        "demo-apiserver: serving the recorded demo cluster at {url}\n\
         demo-apiserver: kubeconfig written to {} (context kubewasm-demo, namespace demo)\n\
         demo-apiserver: stop with Ctrl-C or SIGTERM",
        args.kubeconfig_out.display()
    );
    if let Some(n) = args.bulk_pods {
        eprintln!(
            "demo-apiserver: namespace bulk has {n} pods (started in {:.2} s){}",
            started.elapsed().as_secs_f64(),
            match args.watch_churn {
                Some(c) => format!("; watches on them stream {c} MODIFIED events"),
                None => String::new(),
            }
        );
    }
    wait_for_stop()?;
    drop(server);
    Ok(())
}

/// Blocks until SIGTERM or SIGINT.
fn wait_for_stop() -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("building the signal runtime")?;
    rt.block_on(async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut term = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        #[cfg(not(unix))]
        {
            tokio::signal::ctrl_c()
                .await
                .context("waiting for Ctrl-C")?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: &[&str]) -> Result<Option<Args>> {
        parse_args(v.iter().map(|s| s.to_string()))
    }

    #[test]
    fn arguments_parse_with_and_without_equals() {
        let a = parse(&[
            "--kubeconfig-out",
            "/tmp/k",
            "--port=6443",
            "--ready-file",
            "/tmp/r",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(a.kubeconfig_out, PathBuf::from("/tmp/k"));
        assert_eq!(a.port, 6443);
        assert_eq!(a.ready_file, Some(PathBuf::from("/tmp/r")));
        assert!(parse(&["--port", "1"]).is_err());
        assert!(parse(&["--kubeconfig-out"]).is_err());
        assert!(parse(&["--kubeconfig-out", "k", "--port", "x"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
        assert!(parse(&["--help"]).unwrap().is_none());
        assert_eq!((a.bulk_pods, a.watch_churn, a.gzip), (None, None, true));
    }

    #[test]
    fn bulk_flags_parse_and_churn_needs_bulk_pods() {
        let a = parse(&[
            "--kubeconfig-out=k",
            "--bulk-pods",
            "10000",
            "--watch-churn=200000",
            "--no-gzip",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            (a.bulk_pods, a.watch_churn, a.gzip),
            (Some(10_000), Some(200_000), false)
        );
        assert!(parse(&["--kubeconfig-out=k", "--watch-churn=5"]).is_err());
        assert!(parse(&["--kubeconfig-out=k", "--bulk-pods=-1"]).is_err());
        assert!(parse(&["--kubeconfig-out=k", "--bulk-pods=99999999"]).is_err());
    }

    #[test]
    fn request_work_is_given_in_microseconds_and_zero_means_none() {
        let work = |v: &[&str]| parse(v).unwrap().unwrap().request_work;
        assert_eq!(
            work(&["--kubeconfig-out=k", "--request-work-us=350"]),
            Some(std::time::Duration::from_micros(350))
        );
        assert_eq!(
            work(&["--kubeconfig-out=k", "--request-work-us", "0"]),
            None
        );
        assert_eq!(work(&["--kubeconfig-out=k"]), None);
        assert!(parse(&["--kubeconfig-out=k", "--request-work-us=1ms"]).is_err());
    }
}
