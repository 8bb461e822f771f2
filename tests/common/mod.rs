//! Shared helpers for the CLI suites: a temporary tree, the real binary, expectations
//! computed with `blake3::hash`.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const EMPTY_HASH: &str = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262";

/// A temporary directory with helpers to fill it and run b3tree in it.
pub struct TestEnv {
    pub dir: tempfile::TempDir,
    /// Held while this test may hash a 64 GiB sparse file (see [`huge_sparse_file`]).
    huge: std::cell::RefCell<Option<std::sync::MutexGuard<'static, ()>>>,
}

/// One test at a time hashes a huge sparse file: each such run keeps a core busy for as long
/// as the test lets it, and several at once on a 2-core machine starve the rest of the suite.
static HUGE_FILE_TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl TestEnv {
    pub fn new() -> Self {
        TestEnv {
            dir: tempfile::tempdir().expect("tempdir"),
            huge: Default::default(),
        }
    }

    /// Waits for this test's turn to hash a huge file; the turn lasts until the test ends.
    pub fn take_huge_file_turn(&self) {
        let mut huge = self.huge.borrow_mut();
        if huge.is_none() {
            *huge = Some(HUGE_FILE_TURN.lock().unwrap_or_else(|e| e.into_inner()));
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file (creating parents) from a path given as raw bytes.
    pub fn file(&self, rel: impl AsRef<[u8]>, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.root().join(OsStr::from_bytes(rel.as_ref()));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        p
    }

    /// `b3tree ARGS` run in the env's directory, with none of the developer's or CI's
    /// variables that change what it prints (colour, GitHub annotations) or does (shard
    /// variables): a test sets them itself when it means to.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(bin());
        c.current_dir(self.root());
        c.stdin(Stdio::null());
        for var in [
            "CLICOLOR_FORCE",
            "CLICOLOR",
            "NO_COLOR",
            "GITHUB_ACTIONS",
            "GITHUB_STEP_SUMMARY",
        ] {
            c.env_remove(var);
        }
        // Nor the shard variables of a CI engine or scheduler the suite itself may run in
        // (a GitLab job sets CI_NODE_TOTAL, an array task SLURM_ARRAY_*): `--shard auto`
        // tests set their own.
        for var in [
            "CI_NODE_INDEX",
            "CI_NODE_TOTAL",
            "CIRCLE_NODE_INDEX",
            "CIRCLE_NODE_TOTAL",
            "BUILDKITE_PARALLEL_JOB",
            "BUILDKITE_PARALLEL_JOB_COUNT",
            "JOB_COMPLETION_INDEX",
            "SLURM_ARRAY_TASK_ID",
            "SLURM_ARRAY_TASK_MIN",
            "SLURM_ARRAY_TASK_MAX",
            "SLURM_ARRAY_TASK_COUNT",
            "SLURM_ARRAY_TASK_STEP",
            "PBS_ARRAY_INDEX",
            "LSB_JOBINDEX",
            "LSB_JOBINDEX_STEP",
        ] {
            c.env_remove(var);
        }
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        run_with_timeout(self.cmd().args(args), Duration::from_secs(60))
    }
}

/// Path of the binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_b3tree"))
}

/// The binary under test run by strace (`-f -qq`, the trace itself discarded) with
/// `options` — `-e trace=…`, `-e inject=…` (a fault or a delay), `-P PATH` — to make a
/// system call fail or wait where a test needs it. Add the command's arguments.
pub fn under_strace(options: &[&str]) -> Command {
    let mut c = Command::new("strace");
    c.args(["-f", "-qq", "-o", "/dev/null"])
        .args(options)
        .arg(bin());
    c
}

/// Runs `cmd` as a step of a GitHub Actions job whose step summary file is `summary`:
/// its output, and the summary file afterwards (empty if nothing wrote it).
pub fn on_github(cmd: &mut Command, summary: &Path) -> (Output, String) {
    let out = run_with_timeout(
        cmd.env("GITHUB_ACTIONS", "true")
            .env("GITHUB_STEP_SUMMARY", summary),
        WAIT,
    );
    (out, std::fs::read_to_string(summary).unwrap_or_default())
}

/// Runs a command, killing it (and failing the test) if it outlives `limit`.
pub fn run_with_timeout(cmd: &mut Command, limit: Duration) -> Output {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    // A binary copied a moment ago can be "busy" while another test thread's fork still
    // holds the copy's write descriptor (until that child's exec): retry briefly.
    let mut tries = 0;
    let child = loop {
        match cmd.spawn() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 100 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            other => break other.expect("spawn"),
        }
    };
    let start = Instant::now();
    wait_output(child, limit)
        .unwrap_or_else(|()| panic!("command hung for {:?}: {cmd:?}", start.elapsed()))
}

/// The child's output, or Err once `limit` has passed (the child is then killed).
fn wait_output(child: std::process::Child, limit: Duration) -> Result<Output, ()> {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => Ok(out.expect("wait")),
        Err(_) => {
            // SAFETY: plain kill(2) on the child we spawned.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            Err(())
        }
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The last JSON Lines record on stdout (a `--json` run's summary).
pub fn json_summary(o: &Output) -> serde_json::Value {
    serde_json::from_str(stdout(o).lines().last().expect("a JSON line")).expect("JSON")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts the exit status `code`, showing both streams when it is another.
#[track_caller]
pub fn assert_exit(o: &Output, code: i32) {
    assert_eq!(o.status.code(), Some(code), "{}{}", stdout(o), stderr(o));
}

/// Fails, showing the whole of stderr, unless it contains `needle`.
#[track_caller]
pub fn assert_stderr_contains(o: &Output, needle: &str) {
    let err = stderr(o);
    assert!(err.contains(needle), "stderr lacks {needle:?}:\n{err}");
}

/// The file at `path` still holds exactly `old`: a run that must not replace it did not.
pub fn assert_left_as_it_was(path: &Path, old: &str) {
    let now = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{} is gone or unreadable: {e}", path.display()));
    assert_eq!(now, old, "{} was not left as it was", path.display());
}

pub fn hex(data: &[u8]) -> String {
    blake3::hash(data).to_hex().to_string()
}

/// Copies the binary into a fresh 0755 directory that any user can reach, for running it as
/// uid 65534 (the checkout's `target/` may sit under a directory nobody else can enter).
pub fn public_copy_of_binary() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix("b3tree-bin")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let dst = dir.path().join("b3tree");
    std::fs::copy(bin(), &dst).unwrap();
    std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o755)).unwrap();
    (dir, dst)
}

/// A tree in /tmp that uid 65534 can enter (mode 0755 all the way down from /tmp).
pub fn public_tree() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("b3tree-tree")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// Sets a path's permission bits (the tests that run as uid 65534 need exact modes).
pub fn chmod(path: impl AsRef<Path>, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Writes a file, then gives it `mode`.
pub fn write_mode(path: impl AsRef<Path>, content: impl AsRef<[u8]>, mode: u32) {
    std::fs::write(&path, content).unwrap();
    chmod(path, mode);
}

/// Makes `cmd` run as uid/gid 65534 (nobody). std drops root's supplementary groups itself.
/// Spawning fails (and so does the test) when privileges cannot be dropped: never a skip.
pub fn as_nobody(cmd: &mut Command) -> &mut Command {
    std::os::unix::process::CommandExt::uid(cmd, 65534);
    std::os::unix::process::CommandExt::gid(cmd, 65534)
}

/// A 64 GiB sparse file named `name`: far longer to hash than any test waits. The test takes
/// its turn first (one such test at a time).
pub fn huge_sparse_file(env: &TestEnv, name: &str) {
    env.take_huge_file_turn();
    sparse_file(env, name, 64 << 30);
}

/// A sparse file of `len` bytes named `name` (its parent must exist).
pub fn sparse_file(env: &TestEnv, name: &str, len: u64) {
    let f = std::fs::File::create(env.root().join(name)).unwrap();
    f.set_len(len).unwrap();
}

/// Waits (bounded) until `child` has a file named `name` open: its run is under way.
pub fn wait_until_open(child: &std::process::Child, name: &str) {
    wait_until_pid_opens(child.id(), name);
}

/// The process a tracer (strace) started: its child running the binary under test, waited
/// for (bounded). Not merely its first child: strace forks short-lived children of its own
/// at start-up to probe what ptrace supports, and a loaded machine lets a test see one.
pub fn traced_pid(tracer: &std::process::Child) -> u32 {
    let children = format!("/proc/{0}/task/{0}/children", tracer.id());
    let ours = std::fs::canonicalize(bin()).unwrap_or_else(|_| bin());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let found = std::fs::read_to_string(&children)
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse::<u32>().ok())
            .find(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|e| e == ours));
        if let Some(pid) = found {
            return pid;
        }
        assert!(
            Instant::now() < deadline,
            "the traced process never started"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// [`wait_until_open`] for the process `pid`.
pub fn wait_until_pid_opens(pid: u32, name: &str) {
    let fds = PathBuf::from(format!("/proc/{pid}/fd"));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let open = std::fs::read_dir(&fds)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| {
                std::fs::read_link(e.path()).is_ok_and(|t| t.file_name().is_some_and(|n| n == name))
            });
        if open {
            return;
        }
        assert!(Instant::now() < deadline, "{name} was never opened");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Starts `b3tree hash --jobs 1 -o m.b3 sparse` on a 64 GiB sparse file (far longer than any
/// test waits) and returns once hashing is under way (the temporary output file exists).
pub fn start_hashing_huge_file(env: &TestEnv, stderr: Stdio) -> std::process::Child {
    huge_sparse_file(env, "sparse");
    let child = env
        .cmd()
        .args(["hash", "--jobs", "1", "-o", "m.b3", "sparse"])
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !has_temp_file(env.root()) {
        assert!(Instant::now() < deadline, "no temporary file appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// Whether `dir` holds one of our temporary output files.
pub fn has_temp_file(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| e.file_name().to_string_lossy().starts_with(".b3tree-"))
}

/// Asserts that the process died of `sig` (so a shell shows `$?` = 128 + sig).
pub fn assert_died_of(status: std::process::ExitStatus, sig: i32) {
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        Some(sig),
        "expected death by signal {sig}, got {status:?}"
    );
}

/// Sends `sig` to `child`, then waits (bounded) and returns its status and how long it took.
pub fn signal_and_wait(
    child: &mut std::process::Child,
    sig: i32,
    limit: Duration,
) -> (std::process::ExitStatus, Duration) {
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, sig) };
    let sent = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return (s, sent.elapsed());
        }
        if sent.elapsed() > limit {
            let _ = child.kill();
            panic!("still running {limit:?} after signal {sig}");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Fails when `dir` holds one of our temporary output files.
pub fn assert_no_temp_files(dir: &std::path::Path) {
    let temps: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".b3tree-"))
        .collect();
    assert!(temps.is_empty(), "temporary files left: {temps:?}");
}

/// Makes `cmd` run with the resource limit `resource` (soft = hard = `n`), as `prlimit`
/// would: the one place tests set limits in a child.
pub fn with_rlimit(cmd: &mut Command, resource: libc::__rlimit_resource_t, n: u64) -> &mut Command {
    // SAFETY: setrlimit in the child between fork and exec touches only the child.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(cmd, move || {
            let lim = libc::rlimit {
                rlim_cur: n,
                rlim_max: n,
            };
            if libc::setrlimit(resource, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

/// `with_rlimit` for RLIMIT_NOFILE (`prlimit --nofile=n:n`).
pub fn with_nofile(cmd: &mut Command, n: u64) -> &mut Command {
    with_rlimit(cmd, libc::RLIMIT_NOFILE, n)
}

/// Makes a device node at `path` (mode 0666 less the umask): `kind` is `libc::S_IFCHR` or
/// `libc::S_IFBLK` (root only; CI runs as root).
pub fn mknod(path: &Path, kind: libc::mode_t, major: u32, minor: u32) {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: mknod with a valid C string.
    let rc = unsafe { libc::mknod(c.as_ptr(), kind | 0o666, libc::makedev(major, minor)) };
    assert_eq!(rc, 0, "mknod needs root (CI runs as root)");
}

/// Makes a FIFO at `path`.
pub fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: mkfifo with a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
}

/// The official BLAKE3 vectors (`fixtures/blake3-test-vectors.json`) written as files named
/// `{prefix}{input_len:06}` (input: bytes `i % 251`); each file's name and `field` of its case
/// (131 bytes of extended output, hex).
pub fn vector_files(env: &TestEnv, prefix: &str, field: &str) -> Vec<(String, String)> {
    let vectors: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/blake3-test-vectors.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let mut out = Vec::new();
    for case in vectors["cases"].as_array().unwrap() {
        let n = case["input_len"].as_u64().unwrap() as usize;
        let input: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
        let name = format!("{prefix}{n:06}");
        env.file(&name, &input);
        out.push((name, case[field].as_str().unwrap().to_string()));
    }
    out
}

/// Runs b3tree with `args` in `dir` under GNU time and returns its exit code and peak RSS in
/// KiB. Not wait4 on a child of this process: a child spawned from the test harness
/// inherits the harness's RSS high-water mark across exec (vfork shares the harness's
/// memory until exec), so its figure would depend on what other tests hold; `time` is a
/// small process, and b3tree is its child.
pub fn peak_rss_kib(dir: &std::path::Path, args: &[&str]) -> (Option<i32>, i64) {
    let report = dir.join(".rss");
    let out = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&report)
        .arg(bin())
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("GNU time (tests/deps.sh installs it)");
    let text = std::fs::read_to_string(&report).unwrap();
    // With a non-zero exit, time writes "Command exited with non-zero status N" first.
    let kib = text.lines().last().unwrap().trim().parse().unwrap();
    (out.code(), kib)
}

/// The system call each thread of process `pid` is blocked in (`/proc/PID/task/*/syscall`:
/// its number, or None for a thread that is running).
fn blocked_syscalls(pid: u32) -> Vec<Option<i64>> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("syscall")).ok())
        .map(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
        .collect()
}

/// Whether process `pid` has a handler installed for `sig` (`SigCgt` of /proc/PID/status).
fn catches(pid: u32, sig: i32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (sig - 1)) != 0)
}

/// Waits (bounded) until `child` catches `sig` and one of its threads is blocked in one of
/// `syscalls` (libc::SYS_*): a signal sent then lands where the test says, not before the
/// handler exists or while the process is elsewhere.
pub fn wait_blocked_in(child: &std::process::Child, sig: i32, syscalls: &[i64]) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let blocked = blocked_syscalls(child.id());
        if catches(child.id(), sig)
            && blocked
                .iter()
                .any(|s| s.is_some_and(|n| syscalls.contains(&n)))
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "never blocked in {syscalls:?} with a handler for {sig}: threads in {blocked:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits (bounded) until `child` catches `sig` (its handler is installed).
pub fn wait_catching(child: &std::process::Child, sig: i32) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !catches(child.id(), sig) {
        assert!(Instant::now() < deadline, "no handler for signal {sig}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// README's promise: one Ctrl-C (any terminating signal) ends every command within 250 ms,
/// wherever it is blocked. Signal tests assert it as it is (the watchdog ends a stuck run at
/// 150 ms, which leaves a loaded machine 100 ms to schedule it and exit).
pub const PROMISED_STOP: Duration = Duration::from_millis(250);

/// Sends `sig` and asserts the run ended within [`PROMISED_STOP`]; its status.
pub fn stops_within_promise(child: &mut std::process::Child, sig: i32) -> std::process::ExitStatus {
    let (status, took) = signal_and_wait(child, sig, Duration::from_secs(5));
    eprintln!("signal {sig}: ended after {took:?}");
    assert!(
        took <= PROMISED_STOP,
        "signal {sig}: ended after {took:?}, promised 250 ms"
    );
    status
}

/// How long a test waits for a process or a helper thread before it fails instead of hanging.
pub const WAIT: Duration = Duration::from_secs(60);

/// `child.wait_with_output()`, bounded: past `limit` the child is killed and the test fails.
pub fn output_within(child: std::process::Child, limit: Duration) -> Output {
    let pid = child.id();
    wait_output(child, limit).unwrap_or_else(|()| panic!("pid {pid} still running after {limit:?}"))
}

/// `child.wait()`, bounded like [`output_within`].
pub fn wait_within(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("pid {} still running after {limit:?}", child.id());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// `handle.join()`, bounded: a helper thread (a FIFO reader or writer) that never finishes
/// fails the test instead of hanging it.
pub fn join_within<T>(handle: std::thread::JoinHandle<T>, limit: Duration) -> T {
    let start = Instant::now();
    while !handle.is_finished() {
        assert!(
            start.elapsed() < limit,
            "a helper thread still runs after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    handle.join().expect("the helper thread panicked")
}

/// Fails the test unless it runs as root: `why` is what needs root (CI runs as root; a test
/// that skipped itself as root would test nothing).
pub fn assert_root(why: &str) {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(unsafe { libc::geteuid() }, 0, "{why} (CI runs as root)");
}
