//! HTTP for checking our own servers (nginx, Redmine, a registry, chromedriver): `minreq`, a
//! small client without TLS or dependencies, behind the few calls the xtask makes. Redirects are
//! never followed: callers check where they lead.

use anyhow::{Context, Result};
use base64::Engine as _;

/// An answer, with the body as text (our servers answer HTML, CSS and JSON).
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

    /// The body as JSON.
    pub fn json(&self) -> Result<serde_json::Value> {
        serde_json::from_str(&self.body).with_context(|| {
            let start: String = self.body.chars().take(200).collect();
            format!("the answer is not JSON: {start:?}")
        })
    }
}

pub fn get(url: &str) -> Result<Response> {
    request("GET", url, &[], "")
}

/// Sends one request and reads the whole response (30 s at most).
pub fn request(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> Result<Response> {
    let method = match method {
        "GET" => minreq::Method::Get,
        "POST" => minreq::Method::Post,
        "PUT" => minreq::Method::Put,
        "DELETE" => minreq::Method::Delete,
        "HEAD" => minreq::Method::Head,
        other => minreq::Method::Custom(other.into()),
    };
    let mut request = minreq::Request::new(method, url)
        .with_timeout(30)
        .with_follow_redirects(false)
        .with_headers(headers.iter().copied());
    if !body.is_empty() {
        request = request.with_body(body);
    }
    let resp = request
        .send()
        .with_context(|| format!("requesting {url}"))?;
    Ok(Response {
        status: resp.status_code,
        body: String::from_utf8_lossy(resp.as_bytes()).into_owned(),
        headers: resp.headers,
    })
}

/// A browser-like visitor of one site: carries the cookies the site sets (Redmine's session)
/// from response to request. Redirects are not followed: callers check where they lead.
#[derive(Default)]
pub struct Session {
    cookies: Vec<(String, String)>,
}

impl Session {
    pub fn get(&mut self, url: &str) -> Result<Response> {
        self.send("GET", url, None, "")
    }

    /// Posts a form (`application/x-www-form-urlencoded`).
    pub fn post_form(&mut self, url: &str, fields: &[(&str, &str)]) -> Result<Response> {
        let body = fields
            .iter()
            .map(|(name, value)| format!("{}={}", form_encode(name), form_encode(value)))
            .collect::<Vec<_>>()
            .join("&");
        self.send(
            "POST",
            url,
            Some("application/x-www-form-urlencoded"),
            &body,
        )
    }

    /// The `Cookie` header this session sends (empty before the site set one).
    pub fn cookie(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn send(
        &mut self,
        method: &str,
        url: &str,
        content_type: Option<&str>,
        body: &str,
    ) -> Result<Response> {
        let cookie = self.cookie();
        let mut headers = vec![];
        if !cookie.is_empty() {
            headers.push(("Cookie", cookie.as_str()));
        }
        if let Some(content_type) = content_type {
            headers.push(("Content-Type", content_type));
        }
        let resp = request(method, url, &headers, body)?;
        for (name, value) in &resp.headers {
            if !name.eq_ignore_ascii_case("set-cookie") {
                continue;
            }
            let pair = value.split(';').next().unwrap_or_default();
            if let Some((key, val)) = pair.split_once('=') {
                self.cookies.retain(|(k, _)| k != key.trim());
                self.cookies.push((key.trim().into(), val.trim().into()));
            }
        }
        Ok(resp)
    }
}

/// Percent-encoding of a form field (`application/x-www-form-urlencoded`).
pub fn form_encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            _ => out += &format!("%{byte:02X}"),
        }
    }
    out
}

/// The `Authorization` header value of HTTP basic auth (RFC 7617): `Basic base64(user:password)`.
pub fn basic_auth(user: &str, password: &str) -> String {
    let pair = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// Decodes standard base64 (WebDriver's screenshots).
pub fn base64_decode(text: &str) -> Result<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .context("not base64")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn encodes_forms() {
        assert_eq!(form_encode("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
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
        assert_eq!(base64_decode("Zm9vYg==").unwrap(), b"foob");
        assert!(base64_decode("Zm9v!").is_err());
    }

    /// One canned answer from a real socket; returns what the client sent.
    fn serve_once(answer: &'static [u8]) -> (String, std::thread::JoinHandle<String>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/x", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut buf = [0; 4096];
            let n = conn.read(&mut buf).unwrap();
            conn.write_all(answer).unwrap();
            String::from_utf8_lossy(&buf[..n]).into_owned()
        });
        (url, server)
    }

    #[test]
    fn talks_to_a_real_socket() {
        let (url, server) = serve_once(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nX-A: b: c\r\n\r\nhello",
        );
        let resp = get(&url).unwrap();
        let sent = server.join().unwrap();
        assert!(sent.starts_with("GET /x HTTP/1.1\r\n"), "{sent}");
        assert_eq!((resp.status, resp.body.as_str()), (200, "hello"));
        assert_eq!(resp.header("x-a"), Some("b: c"));
    }

    #[test]
    fn does_not_follow_redirects_and_keeps_cookies() {
        let (url, server) = serve_once(
            b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nSet-Cookie: s=1; path=/\r\nSet-Cookie: t=2\r\nContent-Length: 0\r\n\r\n",
        );
        let mut session = Session::default();
        let resp = session.get(&url).unwrap();
        server.join().unwrap();
        assert_eq!(resp.status, 302);
        assert_eq!(resp.header("location"), Some("/elsewhere"));
        assert_eq!(session.cookie(), "s=1; t=2");
    }

    #[test]
    fn unreachable_is_an_error() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        assert!(get(&format!("http://127.0.0.1:{port}/")).is_err());
    }
}
