//! A guest that reaches the cluster the way ordinary WASI programs do: over
//! `wasi:http/outgoing-handler`, with the Rust ecosystem's client for it (`wstd`), and
//! without the kubewasm WIT at all. One request per run:
//!
//! - `get URL [NAME=VALUE...]`: GET with these headers; prints `status N`, the response
//!   headers as `header NAME: VALUE`, then the body.
//! - `stream URL LINES`: GET and print the body line by line as it arrives, stopping
//!   after LINES lines (a watch or a followed log never ends by itself).
//! - `post URL BYTES [NAME=VALUE...]`: POST a JSON body of BYTES bytes, written as a
//!   stream of 64 KiB chunks without a length; prints `status N`.
//!
//! A request that gets no response prints `error CODE` (the `wasi:http` error code)
//! and exits 0, so tests read one line either way.

use wstd::http::{Body, BodyExt, Client, ErrorCode, Method, Request, Response};
use wstd::io::AsyncWrite;

#[wstd::main]
async fn main() -> Result<(), wstd::http::Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let outcome = match arg(0).as_str() {
        "get" => get(&arg(1), &args[2.min(args.len())..]).await,
        "stream" => stream(&arg(1), arg(2).parse().unwrap_or(1)).await,
        "post" => {
            post(
                &arg(1),
                arg(2).parse().unwrap_or(0),
                &args[3.min(args.len())..],
            )
            .await
        }
        _ => {
            println!("usage: http_client get|stream|post URL ...");
            return Ok(());
        }
    };
    if let Err(e) = outcome {
        match e.downcast_ref::<ErrorCode>() {
            Some(code) => println!("error {code:?}"),
            None => println!("error other: {e:#}"),
        }
    }
    Ok(())
}

fn request(method: Method, url: &str, headers: &[String]) -> wstd::http::request::Builder {
    let mut builder = Request::builder().method(method).uri(url);
    for header in headers {
        let (name, value) = header.split_once('=').unwrap_or((header, ""));
        builder = builder.header(name, value);
    }
    builder
}

fn print_head(response: &Response<Body>) {
    println!("status {}", response.status().as_u16());
    for (name, value) in response.headers() {
        println!(
            "header {name}: {}",
            String::from_utf8_lossy(value.as_bytes())
        );
    }
}

async fn get(url: &str, headers: &[String]) -> Result<(), wstd::http::Error> {
    let request = request(Method::GET, url, headers).body(Body::empty())?;
    let response = Client::new().send(request).await?;
    print_head(&response);
    let body = response.into_body().into_boxed_body().collect().await?;
    wstd::io::stdout().write_all(&body.to_bytes()).await?;
    Ok(())
}

async fn stream(url: &str, lines: usize) -> Result<(), wstd::http::Error> {
    let request = request(Method::GET, url, &[]).body(Body::empty())?;
    let response = Client::new().send(request).await?;
    println!("status {}", response.status().as_u16());
    let mut body = response.into_body().into_boxed_body();
    let mut pending = Vec::new();
    let mut printed = 0;
    while printed < lines {
        let Some(frame) = body.frame().await else {
            println!("end of body");
            break;
        };
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        pending.extend_from_slice(&data);
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            // Printed at once, so a test sees each event while the stream is open.
            let mut out = wstd::io::stdout();
            out.write_all(format!("line {}", String::from_utf8_lossy(&line)).as_bytes())
                .await?;
            out.flush().await?;
            printed += 1;
            if printed == lines {
                break;
            }
        }
    }
    Ok(())
}

async fn post(url: &str, size: usize, headers: &[String]) -> Result<(), wstd::http::Error> {
    // A JSON string of `size` bytes in all, sent in chunks with no length known upfront.
    let mut json = vec![b'x'; size.max(2)];
    json[0] = b'"';
    json[size.max(2) - 1] = b'"';
    let chunks: Vec<Vec<u8>> = json.chunks(64 * 1024).map(<[u8]>::to_vec).collect();
    let body = Body::from_stream(futures::stream::iter(chunks));
    let request = request(Method::POST, url, headers)
        .header("content-type", "application/json")
        .body(body)?;
    let response = Client::new().send(request).await?;
    println!("status {}", response.status().as_u16());
    Ok(())
}
