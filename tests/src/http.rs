//! A minimal HTTP/1.1 client over hyper's connection API: the emulator's stats endpoint and the
//! Runtime API self-tests. hyper's `client` feature is already compiled for
//! `lambda_runtime_api_client` and the SDK, so this costs no new crate.

use http_body_util::{BodyExt, Full};
use hyper::{
    HeaderMap, Method, Request, StatusCode,
    body::Bytes,
    client::conn::http1::{self, SendRequest},
    header,
};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// One answer, body fully read.
pub(crate) struct Reply {
    pub status: StatusCode,
    #[cfg_attr(not(test), allow(dead_code))]
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A keep-alive connection: requests go one after another over the same socket, as from
/// lambda_runtime's pooled client.
pub(crate) struct Conn {
    host: String,
    sender: SendRequest<Full<Bytes>>,
}

impl Conn {
    /// Connects to `host:port` (a leading `http://` is ignored).
    pub(crate) async fn open(address: &str) -> Conn {
        let host = address
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let stream = TcpStream::connect(&host)
            .await
            .unwrap_or_else(|e| panic!("connect to {host}: {e}"));
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .unwrap_or_else(|e| panic!("HTTP handshake with {host}: {e}"));
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Conn { host, sender }
    }

    pub(crate) async fn send(
        &mut self,
        method: Method,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Reply {
        let mut builder = Request::builder()
            .method(method.clone())
            .uri(path_and_query)
            .header(header::HOST, &self.host);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let req = builder
            .body(Full::new(Bytes::from(body)))
            .expect("valid request");
        let what = format!("{method} http://{}{path_and_query}", self.host);
        let resp = self
            .sender
            .send_request(req)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let (parts, body) = resp.into_parts();
        let body = body
            .collect()
            .await
            .unwrap_or_else(|e| panic!("{what}: reading the body: {e}"))
            .to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }
}

/// One request on a fresh connection.
pub(crate) async fn request(
    address: &str,
    method: Method,
    path_and_query: &str,
    body: &[u8],
) -> Reply {
    Conn::open(address)
        .await
        .send(method, path_and_query, &[], body.to_vec())
        .await
}

/// Percent-encodes a query value (log group names contain `/`).
pub(crate) fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
