//! A tiny HTTP/1.0 client on `std::net`, enough to check our own containers without pulling an
//! HTTP stack into the xtask's compile time. One request per connection, no TLS, no chunking
//! (HTTP/1.0 responses are never chunked).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{bail, Context, Result};

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    /// The first header of that name (names compare case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

pub fn get(url: &str) -> Result<Response> {
    request("GET", url, &[], "")
}

/// Sends one request and reads the whole response.
pub fn request(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> Result<Response> {
    let (host, path) = split_url(url)?;
    let mut stream = TcpStream::connect(host).with_context(|| format!("connecting to {host}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = format!("{method} {path} HTTP/1.0\r\nHost: {host}\r\n");
    for (name, value) in headers {
        head += &format!("{name}: {value}\r\n");
    }
    if !body.is_empty() {
        head += &format!("Content-Length: {}\r\n", body.len());
    }
    stream.write_all(format!("{head}\r\n{body}").as_bytes())?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .with_context(|| format!("reading the response of {url}"))?;
    parse(&String::from_utf8_lossy(&raw)).with_context(|| format!("answer of {url}"))
}

/// The `Authorization` header value of HTTP basic auth (RFC 7617): `Basic base64(user:password)`.
pub fn basic_auth(user: &str, password: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("{user}:{password}");
    let mut out = String::from("Basic ");
    for chunk in input.as_bytes().chunks(3) {
        let bytes = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let bits = u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(bits >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `http://host:port/path` → (`host:port`, `/path`).
fn split_url(url: &str) -> Result<(&str, &str)> {
    let Some(rest) = url.strip_prefix("http://") else {
        bail!("only http:// URLs are supported, not {url}");
    };
    Ok(match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    })
}

fn parse(raw: &str) -> Result<Response> {
    let (head, body) = raw.split_once("\r\n\r\n").context("no end of headers")?;
    let mut lines = head.lines();
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("bad status line {status_line:?}"))?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_string(), value.trim().to_string()))
        .collect();
    Ok(Response {
        status,
        headers,
        body: body.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_urls() {
        assert_eq!(
            split_url("http://127.0.0.1:8080/a?b").unwrap(),
            ("127.0.0.1:8080", "/a?b")
        );
        assert_eq!(
            split_url("http://localhost:1").unwrap(),
            ("localhost:1", "/")
        );
        assert!(split_url("https://example.org/").is_err());
    }

    #[test]
    fn encodes_basic_auth() {
        // RFC 7617's example, and every padding length.
        assert_eq!(
            basic_auth("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(basic_auth("a", ""), "Basic YTo=");
        assert_eq!(basic_auth("ab", ""), "Basic YWI6");
        assert_eq!(basic_auth("ab", "c"), "Basic YWI6Yw==");
    }

    #[test]
    fn parses_a_response() {
        let resp = parse("HTTP/1.1 404 Not Found\r\nServer: nginx\r\nX-A: b: c\r\n\r\n<p>gone</p>")
            .unwrap();
        assert_eq!(resp.status, 404);
        assert_eq!(resp.header("server"), Some("nginx"));
        assert_eq!(resp.header("x-a"), Some("b: c"));
        assert_eq!(resp.body, "<p>gone</p>");
        assert!(parse("garbage").is_err());
    }

    #[test]
    fn talks_to_a_real_socket() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/x", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut buf = [0; 1024];
            let n = conn.read(&mut buf).unwrap();
            assert!(String::from_utf8_lossy(&buf[..n]).starts_with("GET /x HTTP/1.0\r\n"));
            conn.write_all(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello")
                .unwrap();
        });
        let resp = get(&url).unwrap();
        server.join().unwrap();
        assert_eq!((resp.status, resp.body.as_str()), (200, "hello"));
    }
}
