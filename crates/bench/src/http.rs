//! A minimal blocking HTTP/1.1 client with keep-alive, for the latency measurements.
//!
//! Why not a general client: on a 2-core machine the client competes with the server for the
//! CPU, and per-request overhead shows up in every latency. This one writes a request and
//! reads the response off one socket, nothing more (Content-Length and chunked bodies, which
//! is what our server and the Node peer send).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{Context, bail};

/// A request that takes longer than this is a failure, not a latency. Long enough for a report's first view at 10^7 resources (it builds the report's facts:
/// over a minute on this machine), short enough that a hung server ends the run.
const IO_TIMEOUT: Duration = Duration::from_secs(900);

/// Largest response accepted (a `$everything` page of 1,000 resources is ~1 MB).
const RESPONSE_BYTES_MAX: usize = 256 << 20;

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `Server-Timing: app;dur=1.234` → 1.234 (milliseconds).
    pub fn server_ms(&self) -> Option<f64> {
        let value = self.header("server-timing")?;
        let at = value.find("dur=")? + 4;
        let end = value[at..]
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .map_or(value.len(), |n| at + n);
        value[at..end].parse().ok()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub struct Client {
    addr: SocketAddr,
    conn: Option<BufReader<TcpStream>>,
    /// Sent with every request (`Prefer: respond-async` for `$export`).
    extra_headers: Vec<(String, String)>,
}

/// Bearer tokens per server address: our node requires one on `/fhir`; the peer gets none.
static BEARERS: std::sync::Mutex<Vec<(SocketAddr, String)>> = std::sync::Mutex::new(Vec::new());

/// Makes every client of `addr` (and `wrk` runs against it) send this bearer token.
pub fn set_bearer(addr: SocketAddr, token: &str) {
    let mut bearers = BEARERS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    bearers.retain(|(a, _)| *a != addr);
    bearers.push((addr, token.to_string()));
}

/// The bearer token registered for `addr`.
pub fn bearer(addr: SocketAddr) -> Option<String> {
    BEARERS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .find(|(a, _)| *a == addr)
        .map(|(_, t)| t.clone())
}

impl Client {
    pub fn new(addr: SocketAddr) -> Client {
        Client {
            addr,
            conn: None,
            extra_headers: Vec::new(),
        }
    }

    /// Sends `name: value` with every request from now on.
    pub fn with_header(mut self, name: &str, value: &str) -> Client {
        self.extra_headers
            .push((name.to_string(), value.to_string()));
        self
    }

    pub fn get(&mut self, path: &str) -> anyhow::Result<Response> {
        self.request("GET", path, None)
    }

    pub fn post_json(&mut self, path: &str, body: &str) -> anyhow::Result<Response> {
        self.request("POST", path, Some(body.as_bytes()))
    }

    /// Sends one request, reconnecting once if a kept-alive connection was closed.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> anyhow::Result<Response> {
        self.request_as(method, path, body, "application/fhir+json")
    }

    /// [`Client::request`] with the body's media type (a web form's, say).
    pub fn request_as(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        content_type: &str,
    ) -> anyhow::Result<Response> {
        let reused = self.conn.is_some();
        match self.try_request(method, path, body, content_type) {
            Ok(response) => Ok(response),
            Err(_) if reused => {
                self.conn = None;
                self.try_request(method, path, body, content_type)
            }
            Err(err) => Err(err),
        }
    }

    fn try_request(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        content_type: &str,
    ) -> anyhow::Result<Response> {
        if self.conn.is_none() {
            let stream = TcpStream::connect(self.addr)
                .with_context(|| format!("cannot connect to {}", self.addr))?;
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(IO_TIMEOUT))?;
            stream.set_write_timeout(Some(IO_TIMEOUT))?;
            self.conn = Some(BufReader::with_capacity(64 << 10, stream));
        }
        let Some(conn) = self.conn.as_mut() else {
            bail!("no connection");
        };
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAccept: application/fhir+json\r\n",
            self.addr
        );
        if let Some(token) = bearer(self.addr) {
            head.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        for (name, value) in &self.extra_headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(body) = body {
            head.push_str(&format!(
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        head.push_str("\r\n");
        let mut request = head.into_bytes();
        if let Some(body) = body {
            request.extend_from_slice(body);
        }
        conn.get_mut().write_all(&request)?;
        let response = read_response(conn)?;
        let close = response
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        if close {
            self.conn = None;
        }
        Ok(response)
    }
}

fn read_line(conn: &mut BufReader<TcpStream>) -> anyhow::Result<String> {
    let mut line = String::new();
    if conn.read_line(&mut line)? == 0 {
        bail!("connection closed");
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn read_response(conn: &mut BufReader<TcpStream>) -> anyhow::Result<Response> {
    let status_line = read_line(conn)?;
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line: {status_line}"))?;
    let mut headers = Vec::new();
    loop {
        let line = read_line(conn)?;
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _): &&(String, String)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let size_line = read_line(conn)?;
            let size_hex = size_line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_hex, 16)
                .with_context(|| format!("bad chunk size: {size_line}"))?;
            if size == 0 {
                // Trailers (none expected) end with an empty line.
                while !read_line(conn)?.is_empty() {}
                break;
            }
            if body.len() + size > RESPONSE_BYTES_MAX {
                bail!("response larger than {RESPONSE_BYTES_MAX} bytes");
            }
            let start = body.len();
            body.resize(start + size, 0);
            conn.read_exact(&mut body[start..])?;
            read_line(conn)?;
        }
    } else if let Some(length) = find("content-length") {
        let length: usize = length.parse().context("bad Content-Length")?;
        if length > RESPONSE_BYTES_MAX {
            bail!("response larger than {RESPONSE_BYTES_MAX} bytes");
        }
        body.resize(length, 0);
        conn.read_exact(&mut body)?;
    } else if status != 204 && status != 304 && !(100..200).contains(&status) {
        // No length: the body runs to the end of the connection.
        conn.read_to_end(&mut body)?;
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}
