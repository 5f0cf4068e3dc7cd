//! `healthcheck`: one HTTP/1.1 GET to the process's own health path, over a plain TCP
//! connection with a deadline. Blocking and dependency-free on purpose: it runs once, in a
//! container image with nothing else in it.

use std::{
    io::{self, Read, Write},
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, ToSocketAddrs},
    time::{Duration, Instant},
};

/// Why a health check failed.
#[derive(Debug, thiserror::Error)]
pub enum HealthcheckError {
    #[error(
        "port 0 means a free port chosen at each start, so nothing can find it; \
         give the process a fixed port (e.g. 0.0.0.0:9100)"
    )]
    PortZero,
    #[error("not a host:port address")]
    BadAddress(#[source] io::Error),
    #[error("nothing answered at {0}")]
    Connect(SocketAddr, #[source] io::Error),
    #[error("no answer from {0} in time")]
    Io(SocketAddr, #[source] io::Error),
    #[error("{addr}{path} answered {status:?}")]
    Unhealthy {
        addr: SocketAddr,
        path: &'static str,
        status: String,
    },
}

/// GETs `path` from the listener configured as `addr` (`host:port`; a wildcard host such as
/// `0.0.0.0` is reached on loopback) and succeeds on a 200 within `timeout`.
pub fn probe(addr: &str, path: &'static str, timeout: Duration) -> Result<(), HealthcheckError> {
    let timeout = timeout.max(Duration::from_millis(1));
    let deadline = Instant::now() + timeout;
    // `localhost` may resolve to ::1 and 127.0.0.1; the process listens on one of them.
    let mut failure = None;
    let mut connected = None;
    for target in resolve(addr)? {
        match TcpStream::connect_timeout(&target, timeout) {
            Ok(stream) => {
                connected = Some((target, stream));
                break;
            }
            Err(e) => failure = Some(HealthcheckError::Connect(target, e)),
        }
    }
    let (target, mut stream) = match (connected, failure) {
        (Some(c), _) => c,
        (None, Some(e)) => return Err(e),
        (None, None) => unreachable!("resolve returns at least one address"),
    };
    let io = |e| HealthcheckError::Io(target, e);
    let left = || {
        deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    };
    stream.set_write_timeout(Some(left())).map_err(io)?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {target}\r\nUser-Agent: coinbeat-healthcheck\r\nConnection: close\r\n\r\n"
    )
    .map_err(io)?;
    // The status line is all we need; read until it is complete or the peer closes.
    let mut head = Vec::with_capacity(128);
    let mut buf = [0u8; 128];
    while !head.contains(&b'\n') {
        stream.set_read_timeout(Some(left())).map_err(io)?;
        let n = stream.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    let status = line.lines().next().unwrap_or("").trim().to_owned();
    let mut parts = status.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some(version), Some("200")) if version.starts_with("HTTP/") => Ok(()),
        _ => Err(HealthcheckError::Unhealthy {
            addr: target,
            path,
            status,
        }),
    }
}

fn resolve(addr: &str) -> Result<Vec<SocketAddr>, HealthcheckError> {
    let mut targets: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(HealthcheckError::BadAddress)?
        .collect();
    if targets.is_empty() {
        let none = io::Error::new(io::ErrorKind::NotFound, "no address");
        return Err(HealthcheckError::BadAddress(none));
    }
    for target in &mut targets {
        if target.port() == 0 {
            return Err(HealthcheckError::PortZero);
        }
        if target.ip().is_unspecified() {
            target.set_ip(match target.ip() {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
            });
        }
    }
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::thread;

    use super::*;

    /// A one-shot HTTP server on loopback answering `reply` to the first request.
    fn serve_once(reply: &'static str) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            // Read the whole request first: closing with unread bytes would reset the
            // connection before the client reads the reply.
            let mut request = Vec::new();
            let mut buf = [0u8; 512];
            while !request.ends_with(b"\r\n\r\n") {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let _ = conn.write_all(reply.as_bytes());
        });
        addr
    }

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn a_200_passes_and_a_wildcard_host_is_reached_on_loopback() {
        let addr = serve_once("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
        probe(&format!("0.0.0.0:{}", addr.port()), "/healthz", SECOND).expect("healthy");
    }

    #[test]
    fn a_name_with_several_addresses_reaches_the_one_listening() {
        // `localhost` resolves to ::1 too on most hosts; the server is on 127.0.0.1 only.
        let addr = serve_once("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
        probe(&format!("localhost:{}", addr.port()), "/healthz", SECOND).expect("healthy");
    }

    #[test]
    fn a_503_fails_and_names_the_status() {
        let addr = serve_once("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n");
        let err = probe(&addr.to_string(), "/readyz", SECOND).expect_err("unhealthy");
        assert!(
            err.to_string()
                .contains("/readyz answered \"HTTP/1.1 503 Service Unavailable\""),
            "{err}"
        );
    }

    #[test]
    fn nothing_listening_port_zero_and_garbage_are_clear_errors() {
        let free = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let err = probe(&free.to_string(), "/healthz", SECOND).expect_err("closed port");
        assert!(matches!(err, HealthcheckError::Connect(..)), "{err}");
        let err = probe("0.0.0.0:0", "/healthz", SECOND).expect_err("port 0");
        assert!(matches!(err, HealthcheckError::PortZero), "{err}");
        let err = probe("not an address", "/healthz", SECOND).expect_err("garbage");
        assert!(matches!(err, HealthcheckError::BadAddress(_)), "{err}");
    }

    #[test]
    fn a_silent_peer_times_out_instead_of_hanging() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let started = Instant::now();
        let err =
            probe(&addr.to_string(), "/healthz", Duration::from_millis(200)).expect_err("silent");
        assert!(matches!(err, HealthcheckError::Io(..)), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
        drop(listener);
    }
}
