//! A tiny blocking HTTP/1.1 client for the tests (no client library between the tests
//! and the wire, so what is asserted is what a client receives).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;
use tradewind_apiserver::TestServer;

/// A response: status code, content type and body.
pub struct Resp {
    pub code: u16,
    pub content_type: String,
    pub body: Value,
}

fn connect(server: &TestServer) -> TcpStream {
    let s = TcpStream::connect(server.addr()).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s
}

fn write_request(
    s: &mut TcpStream,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) {
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("write");
    s.write_all(body).expect("write body");
}

fn read_head(r: &mut BufReader<TcpStream>) -> (u16, Vec<(String, String)>) {
    let mut line = String::new();
    r.read_line(&mut line).expect("status line");
    let code = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("code");
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).expect("header");
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    (code, headers)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Reads one chunk of a chunked body; `None` at the end.
fn read_chunk(r: &mut BufReader<TcpStream>) -> Option<Vec<u8>> {
    let mut size = String::new();
    if r.read_line(&mut size).ok()? == 0 {
        return None;
    }
    let n = usize::from_str_radix(size.trim(), 16).ok()?;
    let mut buf = vec![0; n + 2];
    r.read_exact(&mut buf).ok()?;
    buf.truncate(n);
    if n == 0 { None } else { Some(buf) }
}

/// Sends a request with headers and returns the decoded response.
pub fn request_with(
    server: &TestServer,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Resp {
    let mut s = connect(server);
    write_request(&mut s, method, path, headers, body.as_bytes());
    let mut r = BufReader::new(s);
    let (code, hs) = read_head(&mut r);
    let mut bytes = Vec::new();
    if header(&hs, "transfer-encoding").is_some_and(|t| t.contains("chunked")) {
        while let Some(c) = read_chunk(&mut r) {
            bytes.extend(c);
        }
    } else {
        let len: usize = header(&hs, "content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        bytes.resize(len, 0);
        r.read_exact(&mut bytes).expect("body");
    }
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Resp {
        code,
        content_type: header(&hs, "content-type").unwrap_or("").to_owned(),
        body,
    }
}

/// A JSON request.
pub fn request(server: &TestServer, method: &str, path: &str, body: &Value) -> Resp {
    let text = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    request_with(
        server,
        method,
        path,
        &[("Content-Type", "application/json")],
        &text,
    )
}

/// GET returning (code, body).
pub fn get(server: &TestServer, path: &str) -> Resp {
    request_with(server, "GET", path, &[], "")
}

/// POST a JSON object, asserting 201.
pub fn create(server: &TestServer, path: &str, body: Value) -> Value {
    let r = request(server, "POST", path, &body);
    assert_eq!(r.code, 201, "create {path}: {}", r.body);
    r.body
}

/// PATCH with a content type.
pub fn patch(server: &TestServer, path: &str, content_type: &str, body: &str) -> Resp {
    request_with(
        server,
        "PATCH",
        path,
        &[("Content-Type", content_type)],
        body,
    )
}

/// An open watch stream.
pub struct Watch {
    reader: BufReader<TcpStream>,
    pending: Vec<u8>,
    pub code: u16,
}

impl Watch {
    /// Opens a watch (the path carries `watch=true` or `/watch/`).
    pub fn open(server: &TestServer, path: &str) -> Self {
        Self::open_with(server, path, &[])
    }

    /// Opens a watch with extra headers.
    pub fn open_with(server: &TestServer, path: &str, headers: &[(&str, &str)]) -> Self {
        let mut s = connect(server);
        write_request(&mut s, "GET", path, headers, b"");
        let mut reader = BufReader::new(s);
        let (code, _) = read_head(&mut reader);
        Self {
            reader,
            pending: Vec::new(),
            code,
        }
    }

    /// The next event, or `None` when the stream ends or `timeout` passes.
    pub fn next(&mut self, timeout: Duration) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(pos) = self.pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=pos).collect();
                return serde_json::from_slice(&line).ok();
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            self.reader
                .get_ref()
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .ok()?;
            let chunk = read_chunk(&mut self.reader)?;
            self.pending.extend(chunk);
        }
    }

    /// Collects events until `n` arrived or `timeout` passed.
    pub fn take(&mut self, n: usize, timeout: Duration) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        while out.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left) {
                Some(e) => out.push(e),
                None => break,
            }
        }
        out
    }
}

/// `(type, metadata.name)` of each event.
pub fn summary(events: &[Value]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap_or("").to_owned(),
                e["object"]["metadata"]["name"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
            )
        })
        .collect()
}

/// A ConfigMap body.
pub fn configmap(name: &str, labels: Value, data: Value) -> Value {
    serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}, "data": data})
}
