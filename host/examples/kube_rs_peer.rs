//! The benchmark's kube-rs peer: the jobs `benches/run.sh` times, done natively with
//! kube-rs 5 (kube-client with its `gzip` feature, typed `k8s-openapi` objects), the way a
//! Rust program without a sandbox would do them.
//!
//! ```text
//! cargo run --release -p kubewasm-host --example kube_rs_peer -- KUBECONFIG JOB NAMESPACE [N]
//! ```
//!
//! JOB is one of:
//! - `list-json`: list the namespace's pods in one request and print them as pretty JSON;
//! - `list-names`: list only their metadata (`PartialObjectMetadataList`) and print
//!   `pod/NAME` lines;
//! - `watch-names N`: watch pods from the list's resourceVersion and print `pod/NAME` for
//!   the first N events, then stop;
//! - `version`: `GET /version` and print the server's gitVersion (the warm-start yardstick);
//! - `version-loop N`: N sequential `GET /version` over one client, then print
//!   `N requests in S s = R/s on one thread` (the embedding yardstick);
//! - `version-loop-h2 N`: the same over HTTP/2, which kube-client does not offer (it
//!   speaks HTTP/1.1 only) but client-go and the host speak: kube-client's own layers
//!   (base URI, gzip, credential, extra headers) over hyper's pooled client with h2
//!   offered by ALPN.

use std::io::Write;

use anyhow::{Context, Result, bail};
use futures::TryStreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [kubeconfig, job, namespace, rest @ ..] = args.as_slice() else {
        bail!(
            "usage: kube_rs_peer KUBECONFIG list-json|list-names|watch-names|version|version-loop|version-loop-h2 NAMESPACE [N]"
        );
    };
    let kubeconfig = Kubeconfig::read_from(kubeconfig).context("reading the kubeconfig")?;
    let config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
    let client = if job == "version-loop-h2" {
        http2_client(&config)?
    } else {
        kube::Client::try_from(config)?
    };
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match job.as_str() {
        "list-json" => {
            let list = pods.list(&ListParams::default()).await?;
            serde_json::to_writer_pretty(&mut out, &list)?;
            writeln!(out)?;
        }
        "list-names" => {
            let list = pods.list_metadata(&ListParams::default()).await?;
            for pod in list.items {
                writeln!(out, "pod/{}", pod.metadata.name.unwrap_or_default())?;
            }
        }
        "watch-names" => {
            let n: usize = rest
                .first()
                .context("watch-names needs N")?
                .parse()
                .context("N is a number")?;
            let list = pods.list_metadata(&ListParams::default().limit(1)).await?;
            let version = list.metadata.resource_version.unwrap_or_default();
            let mut events = Box::pin(pods.watch(&WatchParams::default(), &version).await?);
            let mut seen = 0;
            while seen < n {
                let Some(event) = events.try_next().await? else {
                    bail!("the watch ended after {seen} events");
                };
                let pod = match event {
                    WatchEvent::Added(pod)
                    | WatchEvent::Modified(pod)
                    | WatchEvent::Deleted(pod) => pod,
                    WatchEvent::Bookmark(_) => continue,
                    WatchEvent::Error(e) => bail!("watch error: {e}"),
                };
                writeln!(out, "pod/{}", pod.metadata.name.unwrap_or_default())?;
                seen += 1;
            }
        }
        "version" => {
            let info = client.apiserver_version().await?;
            writeln!(out, "Server Version: {}", info.git_version)?;
        }
        "version-loop" | "version-loop-h2" => {
            let n: u32 = rest
                .first()
                .context("version-loop needs N")?
                .parse()
                .context("N is a number")?;
            let started = std::time::Instant::now();
            for _ in 0..n {
                client.apiserver_version().await?;
            }
            let secs = started.elapsed().as_secs_f64();
            writeln!(
                out,
                "{n} requests in {secs:.3} s = {:.0}/s on one thread",
                f64::from(n) / secs
            )?;
        }
        other => bail!("unknown job {other:?}"),
    }
    out.flush()?;
    Ok(())
}

/// kube-client's layers as `Client::try_from` stacks them, over hyper's pooled client
/// offering HTTP/2 and HTTP/1.1 by ALPN. Its tracing, retry and timeout layers are left
/// out: per-request work that the HTTP/1.1 loop does and this one does not, so if anything
/// this loop flatters HTTP/2.
fn http2_client(config: &kube::Config) -> Result<kube::Client> {
    use kube::client::ConfigExt;
    use tower::ServiceExt as _;

    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config.rustls_client_config()?)
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .build();
    let hyper = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, kube::client::Body>(https);
    let service = tower::ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .layer(
            tower_http::decompression::DecompressionLayer::new()
                .no_br()
                .no_deflate()
                .no_zstd()
                .gzip(!config.disable_compression),
        )
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .service(hyper.map_err(tower::BoxError::from));
    Ok(kube::Client::new(service, config.default_namespace.clone()))
}
