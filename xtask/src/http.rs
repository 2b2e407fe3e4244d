//! A minimal blocking HTTP/1.1 client over `std::net::TcpStream`, for the
//! few loopback requests xtask makes (waiting for `/healthz`, registering
//! the example processors, the S3 test server's request counts): no async
//! runtime and no HTTP crate in xtask's build. `http://` only, one request
//! per connection.

use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How long connecting to one address may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one read or write may wait: a server that stops answering fails
/// the request instead of hanging xtask, and an upload's golden check on a
/// debug build (a Python component compiles for tens of seconds) fits.
const IO_TIMEOUT: Duration = Duration::from_secs(600);

/// What a server answered.
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The reason phrase of the status line (`Not Found`).
    pub reason: String,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Response {
    /// A 2xx status.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The status as a status line shows it: `404 Not Found`.
    pub fn status_text(&self) -> String {
        format!("{} {}", self.status, self.reason)
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// `GET url`.
pub fn get(url: &str) -> Result<Response> {
    request("GET", url, &[], &[])
}

/// Sends `method url` with `headers` and `body` and reads the whole answer.
pub fn request(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<Response> {
    let (authority, path) = split_url(url)?;
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n");
    if method != "GET" || !body.is_empty() {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (name, value) in headers {
        if [name, value].iter().any(|s| s.contains(['\r', '\n'])) {
            bail!("the {name} header holds a line break");
        }
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let stream = connect(authority).with_context(|| format!("connecting to {authority}"))?;
    let mut writer = &stream;
    writer
        .write_all(head.as_bytes())
        .and_then(|()| writer.write_all(body))
        .and_then(|()| writer.flush())
        .with_context(|| format!("sending {method} {url}"))?;
    read_response(&mut BufReader::new(&stream)).with_context(|| format!("reading {method} {url}"))
}

/// `http://host:port/path?query` → (`host:port`, `/path?query`).
fn split_url(url: &str) -> Result<(&str, &str)> {
    let Some(rest) = url.strip_prefix("http://") else {
        bail!("{url}: only http:// URLs are supported");
    };
    let (authority, path) = rest.find('/').map_or((rest, "/"), |i| rest.split_at(i));
    if authority.is_empty() {
        bail!("{url}: no host");
    }
    Ok((authority, path))
}

/// A connection to the first address of `authority` (port 80 if none) that
/// accepts one, with [`IO_TIMEOUT`] on reads and writes.
fn connect(authority: &str) -> Result<TcpStream> {
    let with_port = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| !p.contains(']'))
    {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let mut last = None;
    for addr in with_port.to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(stream) => {
                stream.set_read_timeout(Some(IO_TIMEOUT))?;
                stream.set_write_timeout(Some(IO_TIMEOUT))?;
                return Ok(stream);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.map_or_else(|| anyhow::anyhow!("no address"), anyhow::Error::from))
}

/// The status line, the headers, and the body (by `Content-Length`,
/// chunked, or up to the end of the connection).
fn read_response(r: &mut impl BufRead) -> Result<Response> {
    let status_line = line(r)?;
    let mut parts = status_line.splitn(3, ' ');
    let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
        bail!("malformed status line {status_line:?}");
    };
    if !version.starts_with("HTTP/1.") {
        bail!("not an HTTP/1 answer: {status_line:?}");
    }
    let status = code
        .parse()
        .with_context(|| format!("malformed status line {status_line:?}"))?;
    let reason = parts.next().unwrap_or("").to_owned();
    let (mut length, mut chunked) = (None, false);
    loop {
        let header = line(r)?;
        if header.is_empty() {
            break;
        }
        let Some((name, value)) = header.split_once(':') else {
            bail!("malformed header {header:?}");
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().context("Content-Length")?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        }
    }
    let body = if chunked {
        dechunk(r)?
    } else if let Some(n) = length {
        let mut body = vec![0; n];
        r.read_exact(&mut body)?;
        body
    } else {
        let mut body = Vec::new();
        r.read_to_end(&mut body)?;
        body
    };
    Ok(Response {
        status,
        reason,
        body,
    })
}

/// A chunked body: size lines, chunks, then trailers up to an empty line.
fn dechunk(r: &mut impl BufRead) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let size_line = line(r)?;
        let size = size_line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16)
            .with_context(|| format!("malformed chunk size {size_line:?}"))?;
        if size == 0 {
            while !line(r)?.is_empty() {}
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])?;
        if !line(r)?.is_empty() {
            bail!("a chunk is longer than its size");
        }
    }
}

/// One line without its `\r\n`; fails at the end of the connection.
fn line(r: &mut impl BufRead) -> Result<String> {
    let mut text = String::new();
    if r.read_line(&mut text)? == 0 {
        bail!("the connection closed early");
    }
    Ok(text.trim_end_matches(['\r', '\n']).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn parse(raw: &str) -> Response {
        read_response(&mut raw.as_bytes()).unwrap()
    }

    #[test]
    fn reads_a_body_by_its_length_chunked_or_to_the_end() {
        let r = parse("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello, and more");
        assert_eq!(
            (r.status, r.reason.as_str(), r.text().as_str()),
            (200, "OK", "hello")
        );
        let r = parse(
            "HTTP/1.1 409 Conflict\r\nTransfer-Encoding: chunked\r\n\r\n\
             3;ext=1\r\nabc\r\na\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n",
        );
        assert_eq!(
            (r.status_text().as_str(), r.text().as_str()),
            ("409 Conflict", "abc0123456789")
        );
        let r = parse("HTTP/1.0 403 Forbidden\r\n\r\nno");
        assert!(!r.is_success());
        assert_eq!(r.text(), "no");
    }

    #[test]
    fn refuses_what_it_cannot_send_or_read() {
        assert!(split_url("https://example.com/").is_err());
        assert_eq!(
            split_url("http://127.0.0.1:8080").unwrap(),
            ("127.0.0.1:8080", "/")
        );
        assert_eq!(
            split_url("http://[::1]:9/a?b=c").unwrap(),
            ("[::1]:9", "/a?b=c")
        );
        assert!(read_response(&mut "SSH-2.0-x\r\n\r\n".as_bytes()).is_err());
        assert!(
            read_response(&mut "HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nshort".as_bytes())
                .is_err()
        );
        let header = [("Authorization", "Bearer a\r\nX-Evil: 1")];
        assert!(request("PUT", "http://127.0.0.1:9/", &header, b"").is_err());
    }

    #[test]
    fn talks_to_a_server() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1/x", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut r = BufReader::new(&stream);
            let mut head = Vec::new();
            loop {
                let l = line(&mut r).unwrap();
                if l.is_empty() {
                    break;
                }
                head.push(l);
            }
            let mut body = [0; 4];
            r.read_exact(&mut body).unwrap();
            (&stream)
                .write_all(b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok")
                .unwrap();
            (head, body)
        });
        let r = request("PUT", &url, &[("Authorization", "Bearer k")], b"wasm").unwrap();
        assert_eq!((r.status, r.text().as_str()), (201, "ok"));
        let (head, body) = server.join().unwrap();
        assert_eq!(head[0], "PUT /v1/x HTTP/1.1");
        assert!(head.contains(&"Content-Length: 4".to_owned()), "{head:?}");
        assert!(
            head.contains(&"Authorization: Bearer k".to_owned()),
            "{head:?}"
        );
        assert_eq!(&body, b"wasm");
    }
}
