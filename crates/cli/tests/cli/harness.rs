//! Runs the real `babyshield` binary in a fresh temporary directory (so its
//! `./data` and `./babyshield.toml` are its own), with no inherited
//! `BABYSHIELD*` variables, and makes sure every child is killed.

use std::{
    io::{BufRead, BufReader, Read},
    net::{SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::{Arc, Mutex},
    thread::JoinHandle,
    time::{Duration, Instant},
};

use tempfile::TempDir;

/// Longest a one-shot command (migrate, import, ...) may run on a loaded machine.
pub const COMMAND_LIMIT: Duration = Duration::from_secs(120);
/// Longest the server may take to start (migrations, sample data) or to stop.
pub const SERVER_LIMIT: Duration = Duration::from_secs(60);

/// A fresh working directory for one run (or several runs) of the binary.
pub struct Sandbox {
    dir: TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox { dir: tempfile::tempdir().expect("temp dir") }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn join(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn write(&self, relative: &str, contents: &str) -> PathBuf {
        let path = self.join(relative);
        std::fs::write(&path, contents).expect("write file in sandbox");
        path
    }

    /// The binary, run in this directory with only the given configuration.
    pub fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_babyshield"));
        command.args(args).current_dir(self.path()).stdin(Stdio::null());
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("BABYSHIELD") {
                command.env_remove(&name);
            }
        }
        command.envs(env.iter().copied());
        command
    }

    /// Runs a command to completion (killed and failed after `COMMAND_LIMIT`).
    pub fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Outcome {
        let mut command = self.command(args, env);
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = ChildGuard(command.spawn().expect("spawn babyshield"));
        let stdout = drain(child.0.stdout.take().expect("piped stdout"));
        let stderr = drain(child.0.stderr.take().expect("piped stderr"));
        let status = child.wait_with_limit(COMMAND_LIMIT).unwrap_or_else(|| {
            panic!("babyshield {args:?} did not finish within {COMMAND_LIMIT:?}");
        });
        Outcome {
            code: status.code(),
            stdout: stdout.join().expect("stdout reader"),
            stderr: stderr.join().expect("stderr reader"),
        }
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// What a finished command did.
#[derive(Debug)]
pub struct Outcome {
    /// `None` when killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Kills and reaps the child however the test ends.
pub struct ChildGuard(pub Child);

impl ChildGuard {
    /// Polls until the child exits; `None` if it is still running after `limit`.
    pub fn wait_with_limit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.0.try_wait().expect("poll child") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running `babyshield serve` with its output captured line by line.
pub struct Server {
    child: ChildGuard,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    readers: Vec<JoinHandle<()>>,
    pub addr: SocketAddr,
}

fn collect(pipe: impl Read + Send + 'static, into: Arc<Mutex<Vec<String>>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            match line {
                Ok(line) => into.lock().unwrap().push(line),
                Err(_) => break,
            }
        }
    })
}

impl Server {
    /// Starts `serve` on port 0 with JSON logs and learns the port from the
    /// `listening` log line.
    pub fn start_json(sandbox: &Sandbox, env: &[(&str, &str)]) -> Server {
        let mut all = vec![("BABYSHIELD__SERVER__PORT", "0"), ("BABYSHIELD__LOG__FORMAT", "json")];
        all.extend_from_slice(env);
        let mut server = Server::spawn(sandbox, &all);
        let line = server.wait_for_stdout(|l| l.contains(r#""message":"listening""#), SERVER_LIMIT);
        let json: serde_json::Value = serde_json::from_str(&line).expect("the listening line is JSON");
        server.addr = json["address"].as_str().expect("listening line has an address").parse().unwrap();
        server
    }

    /// Starts `serve` with only the given configuration on a port picked
    /// beforehand (retrying if another process takes it meanwhile), and waits
    /// until the process accepts TCP connections.
    pub fn start_on_free_port(sandbox: &Sandbox, env: &[(&str, &str)]) -> Server {
        for _ in 0..3 {
            let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
            let mut all = vec![("BABYSHIELD__SERVER__PORT", port.as_str())];
            all.extend_from_slice(env);
            let mut server = Server::spawn(sandbox, &all);
            server.addr = format!("127.0.0.1:{port}").parse().unwrap();
            let deadline = Instant::now() + SERVER_LIMIT;
            while Instant::now() < deadline {
                if let Some(status) = server.child.0.try_wait().unwrap() {
                    let stderr = server.stderr();
                    if stderr.contains("cannot listen") {
                        break; // port taken in the meantime: try another
                    }
                    panic!("serve exited early with {status}:\n{stderr}\n{}", server.stdout().join("\n"));
                }
                if std::net::TcpStream::connect_timeout(&server.addr, Duration::from_secs(1)).is_ok() {
                    return server;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            if server.child.0.try_wait().unwrap().is_none() {
                panic!("serve did not listen within {SERVER_LIMIT:?}:\n{}", server.stdout().join("\n"));
            }
        }
        panic!("could not find a free port for serve");
    }

    fn spawn(sandbox: &Sandbox, env: &[(&str, &str)]) -> Server {
        let mut command = sandbox.command(&["serve"], env);
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = ChildGuard(command.spawn().expect("spawn babyshield serve"));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let readers = vec![
            collect(child.0.stdout.take().expect("piped stdout"), stdout.clone()),
            collect(child.0.stderr.take().expect("piped stderr"), stderr.clone()),
        ];
        Server { child, stdout, stderr, readers, addr: SocketAddr::from(([127, 0, 0, 1], 0)) }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn stdout(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    /// The first stdout line matching `matches`, waiting up to `limit`.
    pub fn wait_for_stdout(&mut self, matches: impl Fn(&str) -> bool, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(line) = self.stdout.lock().unwrap().iter().find(|l| matches(l)) {
                return line.clone();
            }
            if let Some(status) = self.child.0.try_wait().unwrap() {
                for reader in self.readers.drain(..) {
                    reader.join().expect("output reader");
                }
                if let Some(line) = self.stdout.lock().unwrap().iter().find(|l| matches(l)) {
                    return line.clone();
                }
                panic!(
                    "serve exited ({status}) before the expected line:\nstderr: {}\nstdout:\n{}",
                    self.stderr(),
                    self.stdout().join("\n")
                );
            }
            if Instant::now() >= deadline {
                panic!("expected line not logged within {limit:?}:\n{}", self.stdout().join("\n"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn is_running(&mut self) -> bool {
        self.child.0.try_wait().unwrap().is_none()
    }

    /// Sends SIGTERM, the way an orchestrator stops the service.
    pub fn sigterm(&self) {
        let status =
            Command::new("kill").args(["-TERM", &self.child.0.id().to_string()]).status().expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits (bounded) for the process to exit and for its output to be read.
    pub fn wait_for_exit(&mut self) -> ExitStatus {
        let status = self.child.wait_with_limit(SERVER_LIMIT).unwrap_or_else(|| {
            panic!("serve did not exit within {SERVER_LIMIT:?}:\n{}", self.stdout().join("\n"))
        });
        // The pipes close with the process: the readers end after the last line.
        for reader in self.readers.drain(..) {
            reader.join().expect("output reader");
        }
        status
    }
}

/// A new, empty PostgreSQL database on the test server, dropped with the value.
pub async fn fresh_pg_database() -> babyshield_pg_testkit::TestDatabase {
    babyshield_pg_testkit::TestDatabase::create().await
}

/// An HTTP client for talking to the spawned binary. reqwest's rustls needs
/// the process-wide crypto provider the server installs for itself.
pub fn http_client(timeout: Duration) -> reqwest::Client {
    babyshield_server::tls::install_crypto_provider();
    reqwest::Client::builder().timeout(timeout).build().unwrap()
}
