//! A recording HTTP/1.1 proxy between the operator and the test API server: it forwards
//! bytes unchanged both ways and records each request's method, path, query and
//! content type, so the test knows exactly which (verb, group, resource, namespace, name)
//! the operator used — its own requests only, not the test's kubectl calls.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// One request as seen on the wire.
#[derive(Clone, Debug)]
pub struct Seen {
    /// GET, POST, PUT, PATCH, DELETE.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// The query string (may be empty).
    pub query: String,
    /// Content-Type, lower case (empty when absent).
    pub content_type: String,
}

/// The proxy; it serves until the process ends.
pub struct Proxy {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    log: Arc<Mutex<Vec<Seen>>>,
}

impl Proxy {
    /// Listens on a free port and forwards to `upstream` (`host:port`).
    pub fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let log = Arc::new(Mutex::new(Vec::new()));
        let upstream = upstream.to_owned();
        let l = log.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (upstream, l) = (upstream.clone(), l.clone());
                std::thread::spawn(move || {
                    let _ = forward(client, &upstream, &l);
                });
            }
        });
        Proxy { url, log }
    }

    /// Everything recorded so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }
}

fn forward(client: TcpStream, upstream: &str, log: &Mutex<Vec<Seen>>) -> std::io::Result<()> {
    let server = TcpStream::connect(upstream)?;
    let mut back_from = server.try_clone()?;
    let mut back_to = client.try_clone()?;
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut back_from, &mut back_to);
        let _ = back_to.shutdown(Shutdown::Both);
    });
    let mut reader = BufReader::new(client);
    let mut to_server = server;
    loop {
        // Request head.
        let mut head = Vec::new();
        loop {
            let mut line = Vec::new();
            if reader.read_until(b'\n', &mut line)? == 0 {
                let _ = to_server.shutdown(Shutdown::Write);
                return Ok(());
            }
            let end = line == b"\r\n";
            head.extend_from_slice(&line);
            if end {
                break;
            }
        }
        let text = String::from_utf8_lossy(&head).into_owned();
        let mut lines = text.split("\r\n");
        let mut first = lines.next().unwrap_or_default().split(' ');
        let method = first.next().unwrap_or_default().to_owned();
        let target = first.next().unwrap_or_default();
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let mut length = 0usize;
        let mut chunked = false;
        let mut content_type = String::new();
        for l in lines {
            let Some((k, v)) = l.split_once(':') else {
                continue;
            };
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            match k.as_str() {
                "content-length" => length = v.parse().unwrap_or(0),
                "transfer-encoding" => chunked = v.eq_ignore_ascii_case("chunked"),
                "content-type" => content_type = v.to_ascii_lowercase(),
                _ => {}
            }
        }
        log.lock().unwrap().push(Seen {
            method,
            path: path.to_owned(),
            query: query.to_owned(),
            content_type,
        });
        to_server.write_all(&head)?;
        // Body.
        if chunked {
            loop {
                let mut size_line = Vec::new();
                reader.read_until(b'\n', &mut size_line)?;
                to_server.write_all(&size_line)?;
                let size = usize::from_str_radix(
                    String::from_utf8_lossy(&size_line)
                        .trim()
                        .split(';')
                        .next()
                        .unwrap_or("0"),
                    16,
                )
                .unwrap_or(0);
                let mut chunk = vec![0; size + 2];
                reader.read_exact(&mut chunk)?;
                to_server.write_all(&chunk)?;
                if size == 0 {
                    break;
                }
            }
        } else if length > 0 {
            let mut body = vec![0; length];
            reader.read_exact(&mut body)?;
            to_server.write_all(&body)?;
        }
    }
}
