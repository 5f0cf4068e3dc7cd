//! The physical peer of `bench api`: nginx (Debian's package, when installed) serving the API's
//! own answers as static files, [`WORKERS`] workers (`auto`: one per core, as the API's runtime
//! has a thread per core), `sendfile`, keep-alive, no access log, so the API
//! is measured against a server that does nothing but write bytes, in the same run and under
//! the same load generator.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
};

use anyhow::Context;

use super::lab::{free_addr, wait_listening};

/// nginx's `worker_processes`.
pub const WORKERS: &str = "auto";

/// A running nginx; stopped on drop.
#[derive(Debug)]
pub struct Nginx {
    child: Child,
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

/// Where Debian installs it, then `PATH`.
fn binary() -> Option<PathBuf> {
    let debian = Path::new("/usr/sbin/nginx");
    if debian.exists() {
        return Some(debian.to_owned());
    }
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join("nginx"))
        .find(|p| p.exists())
}

impl Nginx {
    /// nginx serving each `(path, body)` as `application/json`; `None` when it is not installed.
    pub async fn start(files: &[(&str, Vec<u8>)]) -> anyhow::Result<Option<Self>> {
        let Some(nginx) = binary() else {
            return Ok(None);
        };
        let dir = tempfile::Builder::new()
            .prefix("coinbeat-nginx-")
            .tempdir()?;
        let root = dir.path().join("www");
        std::fs::create_dir_all(&root)?;
        let mut locations = String::new();
        for (i, (path, body)) in files.iter().enumerate() {
            let file = format!("f{i}.json");
            std::fs::write(root.join(&file), body)?;
            locations.push_str(&format!(
                "    location = {path} {{ try_files /{file} =404; }}\n"
            ));
        }
        let addr = free_addr()?;
        let d = dir.path().display();
        let config = format!(
            "worker_processes {workers};\nuser root;\ndaemon off;\npid {d}/nginx.pid;\n\
             error_log {d}/error.log;\nevents {{ worker_connections 4096; }}\n\
             http {{\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  tcp_nodelay on;\n\
               keepalive_requests 10000000;\n  keepalive_timeout 65;\n\
               client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n\
               scgi_temp_path {d}/scgi;\n  default_type application/json;\n\
               server {{\n    listen {addr};\n    root {root};\n{locations}  }}\n}}\n",
            root = root.display(),
            workers = WORKERS,
        );
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, config)?;
        let child = Command::new(&nginx)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", nginx.display()))?;
        let me = Self {
            child,
            addr,
            _dir: dir,
        };
        wait_listening(addr).await.context("nginx never listened")?;
        Ok(Some(me))
    }
}

impl Drop for Nginx {
    /// SIGTERM to the master, which stops its workers (a SIGKILL would leave them running).
    fn drop(&mut self) {
        let stopped = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        if !stopped {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}
