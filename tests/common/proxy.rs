//! A small local HTTP proxy for the `send` tests, as `HTTPS_PROXY` /
//! `HTTP_PROXY` / `ALL_PROXY` point at: `CONNECT host:port` opens a tunnel
//! (bytes both ways, whatever runs inside: TLS, HTTP/2, gRPC), and an
//! absolute-form request (`POST http://host:port/path HTTP/1.1`) is
//! forwarded to that target in origin form, one request per connection
//! (`Connection: close` both ways). It records each request it got (method,
//! target, path, headers) and only ever connects to 127.0.0.1: any other
//! target host is answered 403 and recorded as refused. It stops (listener
//! closed, tunnels cut) when dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// What a request to the proxy was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `CONNECT host:port`: a tunnel.
    Connect,
    /// An absolute-form request forwarded to its target.
    Forward,
}

/// One request the proxy got.
#[derive(Clone, Debug)]
pub struct Through {
    pub kind: Kind,
    /// The request's method (`CONNECT`, `POST`, ...).
    pub method: String,
    /// The target's `host:port` as the client named it (`127.0.0.1:4318`,
    /// `localhost:4318`; the port defaults to 80 for `http://`).
    pub target: String,
    /// For `Forward`, the origin-form path and query sent on (`/v1/logs`);
    /// empty for `Connect`.
    pub path: String,
    /// The request's headers to the proxy, names lower-cased (so a test can
    /// see `proxy-authorization`, or that no `authorization` went to the proxy
    /// in a CONNECT).
    pub headers: Vec<(String, String)>,
    /// True when the target was not 127.0.0.1 or localhost: answered 403,
    /// nothing connected.
    pub refused: bool,
}

/// A running proxy on 127.0.0.1.
pub struct Proxy {
    pub port: u16,
    seen: Arc<Mutex<Vec<Through>>>,
    /// Every socket it holds open (clients and upstreams), cut on drop.
    sockets: Arc<Mutex<Vec<TcpStream>>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Starts a proxy on a free port of 127.0.0.1.
    pub fn start() -> Self {
        let listener = bind_below_ephemeral();
        let port = listener.local_addr().expect("proxy address").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sockets = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let (seen, sockets, stop) = (Arc::clone(&seen), Arc::clone(&sockets), Arc::clone(&stop));
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (seen, sockets) = (Arc::clone(&seen), Arc::clone(&sockets));
                    std::thread::spawn(move || handle(conn, &seen, &sockets));
                }
            })
        };
        Self {
            port,
            seen,
            sockets,
            stop,
            accept: Some(accept),
        }
    }

    /// `http://127.0.0.1:PORT`, for `HTTPS_PROXY` and friends or `curl -x`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request it got, in order of arrival.
    pub fn seen(&self) -> Vec<Through> {
        self.seen.lock().unwrap().clone()
    }

    /// How many tunnels it opened (CONNECTs to 127.0.0.1 or localhost).
    pub fn tunnels(&self) -> usize {
        self.count(Kind::Connect)
    }

    /// How many plain requests it forwarded.
    pub fn forwarded(&self) -> usize {
        self.count(Kind::Forward)
    }

    /// The targets (`host:port`) of the requests it got, in order, refused ones included.
    pub fn targets(&self) -> Vec<String> {
        self.seen().into_iter().map(|t| t.target).collect()
    }

    fn count(&self, kind: Kind) -> usize {
        self.seen().iter().filter(|t| t.kind == kind && !t.refused).count()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop, which then sees `stop` and closes the listener.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(a) = self.accept.take() {
            let _ = a.join();
        }
        for s in self.sockets.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

/// A listener on a free port of 127.0.0.1 below Linux's ephemeral range
/// (32768 up), from a start that differs from run to run. A port the
/// kernel hands out for `bind(0)` can go to another test the moment the
/// proxy lets it go, and then "the port is closed once dropped" saw that
/// test's listener instead.
fn bind_below_ephemeral() -> TcpListener {
    const FIRST: u32 = 20_000;
    const SPAN: u32 = 12_000;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
        ^ std::process::id();
    (0..SPAN)
        .map(|i| FIRST + (seed.wrapping_add(i)) % SPAN)
        .find_map(|p| TcpListener::bind(("127.0.0.1", p as u16)).ok())
        .expect("a free port for the proxy")
}

/// Reads a request head: the request line and the headers (names lower-cased).
fn read_head(r: &mut impl BufRead) -> Option<(String, Vec<(String, String)>)> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    Some((line.trim_end().to_string(), headers))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The port of `host:port` when host is 127.0.0.1 or localhost.
fn local_port(target: &str) -> Option<u16> {
    let (host, port) = target.rsplit_once(':')?;
    (host == "127.0.0.1" || host.eq_ignore_ascii_case("localhost"))
        .then(|| port.parse().ok())
        .flatten()
}

fn handle(client: TcpStream, seen: &Mutex<Vec<Through>>, sockets: &Mutex<Vec<TcpStream>>) {
    if let Ok(c) = client.try_clone() {
        sockets.lock().unwrap().push(c);
    }
    let mut reader = BufReader::new(client.try_clone().expect("clone the client socket"));
    let mut out = client;
    let Some((line, headers)) = read_head(&mut reader) else {
        return;
    };
    let mut parts = line.split_whitespace();
    let (Some(method), Some(uri)) = (parts.next(), parts.next()) else {
        let _ = out.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    };
    let method = method.to_string();
    let (kind, target, path) = if method.eq_ignore_ascii_case("CONNECT") {
        (Kind::Connect, uri.to_string(), String::new())
    } else if let Some(rest) = uri.strip_prefix("http://") {
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let target = if authority.contains(':') {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        (Kind::Forward, target, path.to_string())
    } else {
        let _ = out.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    };
    let port = local_port(&target);
    seen.lock().unwrap().push(Through {
        kind,
        method: method.clone(),
        target: target.clone(),
        path: path.clone(),
        headers: headers.clone(),
        refused: port.is_none(),
    });
    let Some(port) = port else {
        let _ = out.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    };
    let Ok(upstream) = TcpStream::connect(("127.0.0.1", port)) else {
        let _ = out.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    };
    if let Ok(u) = upstream.try_clone() {
        sockets.lock().unwrap().push(u);
    }
    match kind {
        Kind::Connect => {
            if out.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").is_err() {
                return;
            }
            tunnel(reader, out, upstream);
        }
        Kind::Forward => forward(reader, out, upstream, &method, &target, &path, &headers),
    }
}

/// Copies bytes both ways until either side closes, then closes both.
fn tunnel(mut from_client: BufReader<TcpStream>, mut to_client: TcpStream, upstream: TcpStream) {
    let Ok(mut to_upstream) = upstream.try_clone() else {
        return;
    };
    let mut from_upstream = upstream;
    let down = std::thread::spawn(move || {
        let _ = std::io::copy(&mut from_upstream, &mut to_client);
        let _ = to_client.shutdown(Shutdown::Both);
        let _ = from_upstream.shutdown(Shutdown::Both);
    });
    // The reader's buffer (anything the client sent after the head) goes first.
    let _ = std::io::copy(&mut from_client, &mut to_upstream);
    let _ = to_upstream.shutdown(Shutdown::Write);
    let _ = down.join();
}

/// Sends the request on in origin form (with `Connection: close`), relays its
/// body (Content-Length or chunked), then relays the response, told
/// `Connection: close`, until the target closes.
fn forward(
    mut from_client: BufReader<TcpStream>,
    mut to_client: TcpStream,
    mut upstream: TcpStream,
    method: &str,
    target: &str,
    path: &str,
    headers: &[(String, String)],
) {
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    if header(headers, "host").is_none() {
        head.push_str(&format!("Host: {target}\r\n"));
    }
    for (k, v) in headers {
        if matches!(
            k.as_str(),
            "connection" | "proxy-connection" | "proxy-authorization" | "keep-alive" | "expect"
        ) {
            continue;
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    if upstream.write_all(head.as_bytes()).is_err() {
        return;
    }
    // We answer the client's 100-continue ourselves rather than pass it on.
    if header(headers, "expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
        && to_client.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_err()
    {
        return;
    }
    let chunked = header(headers, "transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let sent = if chunked {
        relay_chunked(&mut from_client, &mut upstream)
    } else {
        let len: u64 = header(headers, "content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        std::io::copy(&mut (&mut from_client).take(len), &mut upstream).ok() == Some(len)
    };
    if !sent {
        return;
    }
    // The response: its head with Connection: close, then the rest as it comes.
    let mut up = BufReader::new(upstream);
    let Some((status, rheaders)) = read_head(&mut up) else {
        return;
    };
    let mut rhead = format!("{status}\r\n");
    for (k, v) in &rheaders {
        if k != "connection" && k != "keep-alive" {
            rhead.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    rhead.push_str("Connection: close\r\n\r\n");
    if to_client.write_all(rhead.as_bytes()).is_err() {
        return;
    }
    let _ = std::io::copy(&mut up, &mut to_client);
    let _ = to_client.shutdown(Shutdown::Both);
}

/// Relays a chunked body as it is, through its last chunk and trailers.
fn relay_chunked(from: &mut impl BufRead, to: &mut impl Write) -> bool {
    loop {
        let mut size_line = String::new();
        if from.read_line(&mut size_line).ok() != Some(size_line.len()) || size_line.is_empty() {
            return false;
        }
        if to.write_all(size_line.as_bytes()).is_err() {
            return false;
        }
        let hex = size_line.trim().split(';').next().unwrap_or("");
        let Ok(size) = u64::from_str_radix(hex, 16) else {
            return false;
        };
        if size == 0 {
            // Trailers, up to the empty line.
            loop {
                let mut t = String::new();
                if from.read_line(&mut t).unwrap_or(0) == 0 || to.write_all(t.as_bytes()).is_err() {
                    return false;
                }
                if t == "\r\n" || t == "\n" {
                    return true;
                }
            }
        }
        // The data and its CRLF.
        if std::io::copy(&mut from.take(size + 2), to).ok() != Some(size + 2) {
            return false;
        }
    }
}
