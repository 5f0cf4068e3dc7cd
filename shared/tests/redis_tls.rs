//! `rediss://`: a real `redis-server` that speaks only TLS, with a certificate made for the test.
//! The queue layer's connection works over it; an unverifiable certificate is refused unless the
//! URL says `#insecure`; a plain `redis://` to the TLS port gets no answer.

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use coinbeat_shared::{
    redis_conn,
    settings::{RedisSettings, Secret},
};

/// A `redis-server` listening for TLS only, killed on drop.
struct TlsRedis {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl TlsRedis {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
            .expect("a self-signed certificate");
        let (cert_file, key_file) = (dir.path().join("redis.crt"), dir.path().join("redis.key"));
        std::fs::write(&cert_file, cert.cert.pem()).unwrap();
        std::fs::write(&key_file, cert.signing_key.serialize_pem()).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                "0",
                "--bind",
                "127.0.0.1",
                "--tls-port",
                &port.to_string(),
            ])
            .arg("--tls-cert-file")
            .arg(&cert_file)
            .arg("--tls-key-file")
            .arg(&key_file)
            .arg("--tls-ca-cert-file")
            .arg(&cert_file)
            .args([
                "--tls-auth-clients",
                "no",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts (it must be built with TLS, as Debian's is)");
        let me = Self {
            child,
            port,
            _dir: dir,
        };
        wait_for_port(port, Duration::from_secs(10));
        me
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_for_port(port: u16, within: Duration) {
    let deadline = Instant::now() + within;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "redis-server never listened on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn settings(url: String) -> RedisSettings {
    RedisSettings {
        url: Secret::new(url),
        ..RedisSettings::default()
    }
}

async fn ping(url: String) -> Result<String, String> {
    let mut conn =
        tokio::time::timeout(Duration::from_secs(8), redis_conn::connect(&settings(url)))
            .await
            .map_err(|_| "connect timed out".to_owned())?
            .map_err(|e| format!("{e}"))?;
    redis::cmd("PING")
        .query_async::<String>(&mut conn)
        .await
        .map_err(|e| format!("{e}"))
}

#[tokio::test]
async fn rediss_connects_over_tls_and_checks_the_certificate() {
    let redis = TlsRedis::start();
    let port = redis.port;

    // Our certificate is self-signed, so a verified connection must refuse it...
    let refused = ping(format!("rediss://localhost:{port}")).await;
    let refused = refused.expect_err("an unverifiable certificate was accepted");
    eprintln!("refused: {refused}");
    assert!(
        refused.to_lowercase().contains("certificate") || refused.contains("UnknownIssuer"),
        "refused for another reason than the certificate: {refused}"
    );

    // ... and `#insecure` (a dev server) skips the check: the TLS session itself works.
    let pong = ping(format!("rediss://localhost:{port}/#insecure")).await;
    assert_eq!(pong.as_deref(), Ok("PONG"));

    // The port speaks only TLS: plain RESP gets no answer.
    let plain = ping(format!("redis://127.0.0.1:{port}")).await;
    assert!(
        plain.is_err(),
        "plain text reached a TLS-only port: {plain:?}"
    );
}
