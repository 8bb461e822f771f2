//! `--shard auto` on a real Slurm: a single-node cluster (munged, slurmctld, slurmd from
//! Debian's packages, installed by tests/deps.sh) started by the test as root in its own
//! directory — its own munge socket and key, `slurm.conf` given by `SLURM_CONF`, ports
//! picked free — so nothing of the machine's own configuration is read or changed. Job
//! arrays of `hash --shard auto` (0- and 1-based) with a merge job that waits for them
//! (`--dependency=afterok`), and of `check --shard auto` over a tampered tree; the daemons
//! are stopped by their pid at the end, also when the test fails.

use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the cluster may take to come up, and a batch of jobs to finish.
const LIMIT: Duration = Duration::from_secs(120);

/// The daemons of a cluster this test started, stopped (SIGTERM, then SIGKILL) when dropped.
struct Cluster {
    dir: PathBuf,
    conf: PathBuf,
    daemons: Vec<(&'static str, Child)>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Jobs still running (a test that failed midway) are cancelled first: their steps
        // outlive the daemons otherwise.
        if !self.daemons.is_empty() {
            let _ = self.client("scancel").args(["--user", "root"]).status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline && !self.queue_empty() {
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        for (_, child) in self.daemons.iter_mut().rev() {
            // SAFETY: kill(2) on a child this test spawned and has not reaped.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Whether the child `pid` has exited (a zombie not yet reaped, or gone).
fn has_ended(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name, which is in parentheses.
        Ok(stat) => stat
            .rsplit(") ")
            .next()
            .is_some_and(|rest| rest.starts_with('Z')),
        Err(_) => true,
    }
}

/// A port no one listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The machine's short host name: slurmd takes the node whose `NodeName` it is.
fn short_hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname(2) writes at most buf.len() bytes into buf.
    assert_eq!(
        unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) },
        0
    );
    let name = String::from_utf8_lossy(&buf[..buf.iter().position(|&b| b == 0).unwrap()]);
    name.split('.').next().unwrap().to_string()
}

impl Cluster {
    /// Starts munged, slurmctld and slurmd for a one-node cluster under `dir`, and waits
    /// until the node is idle.
    fn start(dir: &Path) -> Cluster {
        let dir = dir.to_path_buf();
        for d in ["munge", "state", "spool"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        let key: Vec<u8> = (0..1024u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        write_mode(dir.join("munge/key-file"), key, 0o400);
        let host = short_hostname();
        let d = dir.display();
        let conf = dir.join("slurm.conf");
        std::fs::write(
            &conf,
            format!(
                "ClusterName=b3tree\nSlurmctldHost={host}(127.0.0.1)\n\
                 SlurmctldPort={}\nSlurmdPort={}\nSlurmUser=root\nSlurmdUser=root\n\
                 AuthType=auth/munge\nCredType=cred/munge\nAuthInfo=socket={d}/munge/sock\n\
                 ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\nMpiDefault=none\n\
                 JobAcctGatherType=jobacct_gather/none\nReturnToService=2\n\
                 StateSaveLocation={d}/state\nSlurmdSpoolDir={d}/spool\n\
                 SlurmctldPidFile={d}/slurmctld.pid\nSlurmdPidFile={d}/slurmd.pid\n\
                 SlurmctldLogFile={d}/slurmctld.log\nSlurmdLogFile={d}/slurmd.log\n\
                 SelectType=select/cons_tres\nSelectTypeParameters=CR_Core\n\
                 NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN\n\
                 PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP\n",
                free_port(),
                free_port(),
                // No more than the machine has: a node that claims more is drained.
                cpus = std::thread::available_parallelism().map_or(1, |n| n.get().min(2)),
            ),
        )
        .unwrap();
        let mut cluster = Cluster {
            conf,
            daemons: Vec::new(),
            dir,
        };
        let d = cluster.dir.clone();
        let munge = |f: &str| format!("--{f}={}", d.join("munge").join(f).display());
        cluster.spawn(
            "munged",
            Command::new("/usr/sbin/munged")
                .args(["--foreground", "--force"])
                .arg(format!("--socket={}", d.join("munge/sock").display()))
                .args([munge("key-file"), munge("log-file"), munge("pid-file")])
                .arg(format!("--seed-file={}", d.join("munge/seed").display())),
        );
        cluster.wait_for("the munge socket", || d.join("munge/sock").exists());
        let conf = cluster.conf.clone();
        cluster.spawn(
            "slurmctld",
            Command::new("/usr/sbin/slurmctld")
                .args(["-D", "-i", "-f"])
                .arg(&conf),
        );
        cluster.spawn(
            "slurmd",
            Command::new("/usr/sbin/slurmd")
                .args(["-D", "-f"])
                .arg(&conf),
        );
        cluster.wait_for("an idle node", || {
            let out = cluster
                .client("sinfo")
                .args(["-h", "-o", "%T"])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).trim() == "idle"
        });
        cluster
    }

    fn spawn(&mut self, name: &'static str, cmd: &mut Command) {
        let log = std::fs::File::create(self.dir.join(format!("{name}.out"))).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{name}: {e} (tests/deps.sh installs it)"));
        self.daemons.push((name, child));
    }

    /// Waits until `ready` holds; fails the test with the daemons' logs after [`LIMIT`].
    fn wait_for(&self, what: &str, mut ready: impl FnMut() -> bool) {
        let deadline = Instant::now() + LIMIT;
        while !ready() {
            if let Some((name, _)) = self.daemons.iter().find(|(_, c)| has_ended(c.id())) {
                panic!("{name} ended while waiting for {what}:\n{}", self.logs());
            }
            if Instant::now() > deadline {
                panic!("no {what} after {LIMIT:?}:\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn logs(&self) -> String {
        let mut all = String::new();
        for name in [
            "munged.out",
            "slurmctld.out",
            "slurmctld.log",
            "slurmd.out",
            "slurmd.log",
        ] {
            let text = std::fs::read_to_string(self.dir.join(name)).unwrap_or_default();
            all += &format!("--- {name}\n{text}");
        }
        all
    }

    /// A Slurm client command for this cluster, with no variable of the test's own
    /// environment (a CI engine's shard variables would reach the jobs: sbatch exports
    /// what it is given).
    fn client(&self, name: &str) -> Command {
        let mut c = Command::new(name);
        c.env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("SLURM_CONF", &self.conf);
        c
    }

    /// Submits a batch job (`sbatch --parsable ARGS`), its output in `out`; the job id.
    fn submit(&self, args: &[&str], out: &str) -> String {
        let output = run_with_timeout(
            self.client("sbatch")
                .args(["--parsable", "--output", out])
                .args(args),
            LIMIT,
        );
        assert_exit(&output, 0);
        stdout(&output).trim().to_string()
    }

    /// Waits until the queue is empty: every job submitted has ended.
    fn wait_idle(&self) {
        self.wait_for("empty queue", || self.queue_empty());
    }

    fn queue_empty(&self) -> bool {
        let out = self.client("squeue").arg("-h").output();
        out.is_ok_and(|out| out.status.success() && out.stdout.is_empty())
    }

    /// Each task of array job `id` with its exit code, as `scontrol show job` gives them
    /// (`ExitCode=STATUS:SIGNAL`), sorted by task id.
    fn task_exits(&self, id: &str) -> Vec<(u32, String)> {
        let out = self
            .client("scontrol")
            .args(["show", "job", id])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let field = |rec: &str, key: &str| {
            rec.split_whitespace()
                .find_map(|w| w.strip_prefix(key).map(str::to_string))
                .unwrap_or_else(|| panic!("no {key} in {rec}"))
        };
        let mut tasks: Vec<(u32, String)> = text
            .split("\n\n")
            .filter(|rec| rec.contains("JobId="))
            .map(|rec| {
                (
                    field(rec, "ArrayTaskId=").parse().unwrap(),
                    field(rec, "ExitCode="),
                )
            })
            .collect();
        tasks.sort();
        tasks
    }
}

/// A job script that runs `b3tree ARGS` (absolute paths: a job's directory is its own).
fn script(dir: &Path, name: &str, args: &str) -> String {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!("#!/bin/sh\nexec {} {args}\n", bin().display()),
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

/// Submits an array (`--array FIRST-(FIRST+2)`) of `hash --shard auto` over `tree`, each task
/// writing `out/BASE.TASK.b3`, and a merge of the three into `out/BASE.b3` that runs only
/// when every task succeeded; the array's job id and its task ids.
fn hash_array(cluster: &Cluster, root: &str, base: &str, first: u32) -> (String, Vec<u32>) {
    let ids: Vec<u32> = (first..first + 3).collect();
    let shard = format!("{root}/out/{base}.$SLURM_ARRAY_TASK_ID.b3");
    let job = cluster.submit(
        &[
            "--array",
            &format!("{first}-{}", first + 2),
            &script(
                Path::new(root),
                &format!("{base}.sh"),
                &format!("hash --shard auto -o {shard} -C {root}/tree ."),
            ),
        ],
        &format!("{root}/out/{base}.%a.out"),
    );
    let shards: Vec<String> = ids
        .iter()
        .map(|i| format!("{root}/out/{base}.{i}.b3"))
        .collect();
    cluster.submit(
        &[
            "--dependency",
            &format!("afterok:{job}"),
            "--wrap",
            &format!(
                "{} merge -o {root}/out/{base}.b3 {}",
                bin().display(),
                shards.join(" ")
            ),
        ],
        &format!("{root}/out/{base}.merge.out"),
    );
    (job, ids)
}

/// Asserts that every task of the array `job` succeeded with its own share (task i of an
/// array from ids[0] is shard i − ids[0] of 3: the head of its manifest says so), the
/// shares adding up to the tree, and that the merge made `one_run`.
fn assert_merged(
    cluster: &Cluster,
    root: &str,
    base: &str,
    (job, ids): &(String, Vec<u32>),
    one_run: &str,
) {
    let exits = cluster.task_exits(job);
    let all_ok: Vec<(u32, String)> = ids.iter().map(|&i| (i, "0:0".to_string())).collect();
    assert_eq!(exits, all_ok, "{base}");
    let mut shares = 0;
    for i in ids {
        let said = std::fs::read_to_string(format!("{root}/out/{base}.{i}.out")).unwrap();
        assert!(said.contains("in other shards"), "{base} task {i}: {said}");
        let shard = std::fs::read_to_string(format!("{root}/out/{base}.{i}.b3")).unwrap();
        let (head, entries) = shard.split_once('\n').unwrap();
        assert_eq!(head, format!("# b3tree shard {}/3", i - ids[0]), "{base}");
        let count = entries.lines().count();
        assert!(count < 60, "{base} task {i} hashed everything");
        shares += count;
    }
    assert_eq!(shares, 60, "{base}");
    let merged = std::fs::read_to_string(format!("{root}/out/{base}.b3"))
        .unwrap_or_else(|e| panic!("{base}: no merged manifest ({e}):\n{}", cluster.logs()));
    assert_eq!(merged, one_run, "{base}");
}

/// Every task of the gapped array `job` (`--array=1,3,7`) refused (exit 2), saying why.
fn assert_refused_for_gaps(cluster: &Cluster, root: &str, job: &str) {
    let exits = cluster.task_exits(job);
    assert_eq!(exits.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [1, 3, 7]);
    for (i, exit) in exits {
        assert_eq!(exit, "2:0", "task {i}");
        let said = std::fs::read_to_string(format!("{root}/out/gaps.{i}.out")).unwrap();
        let why = "this Slurm array has gaps (3 tasks between 1 and 7)";
        assert!(said.contains(why), "{said}");
    }
}

#[test]
fn slurm_arrays_hash_merge_and_check_like_one_run() {
    assert_root("starting a Slurm cluster needs root");
    let env = TestEnv::new();
    for d in ["a", "a/b", "c", "c/d/e", "f"] {
        for i in 0..12 {
            env.file(format!("tree/{d}/x{i}"), format!("{d} {i}"));
        }
    }
    let root = env.root().display().to_string();
    std::fs::create_dir(env.root().join("out")).unwrap();
    let cluster = Cluster::start(&env.root().join("slurm"));
    let one_run = stdout(&env.run(&["hash", "-C", "tree", "."]));
    assert_eq!(one_run.lines().count(), 60);

    // A 0-based and a 1-based array, each merged when all its tasks succeeded.
    let zero = hash_array(&cluster, &root, "zero", 0);
    let one = hash_array(&cluster, &root, "one", 1);
    cluster.wait_idle();
    assert_merged(&cluster, &root, "zero", &zero, &one_run);
    assert_merged(&cluster, &root, "one", &one, &one_run);

    // An array with gaps cannot be mapped to K/N: every task refuses (exit 2), naming why.
    let gaps = cluster.submit(
        &[
            "--array",
            "1,3,7",
            &script(
                env.root(),
                "gaps.sh",
                &format!("hash --shard auto -C {root}/tree ."),
            ),
        ],
        &format!("{root}/out/gaps.%a.out"),
    );
    // check as an array over a tampered tree: the one task whose share holds the changed
    // file fails (exit 1, which Slurm records), the others pass — the task of the shard
    // that a fixed --shard K/3 finds it in.
    std::fs::write(env.root().join("tree/c/d/e/x7"), "tampered").unwrap();
    let manifest = format!("{root}/out/one.b3");
    let fails = |k: u32| {
        let shard = format!("{k}/3");
        let out = env.run(&["check", "-q", "--shard", &shard, "-C", "tree", &manifest]);
        out.status.code() == Some(1)
    };
    let shard_of_file = (0..3u32).find(|&k| fails(k)).expect("one shard fails");
    let job = cluster.submit(
        &[
            "--array",
            "1-3",
            &script(
                env.root(),
                "check.sh",
                &format!("check --shard auto -C {root}/tree {root}/out/one.b3"),
            ),
        ],
        &format!("{root}/out/check.%a.out"),
    );
    cluster.wait_idle();
    let exits = cluster.task_exits(&job);
    let want: Vec<(u32, String)> = (1..=3)
        .map(|i| {
            (
                i,
                if i == shard_of_file + 1 { "1:0" } else { "0:0" }.to_string(),
            )
        })
        .collect();
    assert_eq!(exits, want);
    let said =
        std::fs::read_to_string(format!("{root}/out/check.{}.out", shard_of_file + 1)).unwrap();
    assert!(said.contains("c/d/e/x7: FAILED"), "{said}");
    assert_refused_for_gaps(&cluster, &root, &gaps);
}

/// A scheduler's variable that is not UTF-8 is refused as not a number, never taken as
/// unset (which could let another engine's variables decide the shard).
#[test]
fn a_shard_variable_that_is_not_utf8_is_refused() {
    use std::os::unix::ffi::OsStrExt;
    let env = TestEnv::new();
    env.file("t/a", "a");
    let out = run_with_timeout(
        env.cmd()
            .args(["hash", "--shard", "auto", "t"])
            .env("SLURM_ARRAY_TASK_ID", std::ffi::OsStr::from_bytes(b"1\xff"))
            .env("SLURM_ARRAY_TASK_MIN", "0")
            .env("SLURM_ARRAY_TASK_MAX", "2")
            .env("SLURM_ARRAY_TASK_COUNT", "3")
            .env("CI_NODE_INDEX", "1")
            .env("CI_NODE_TOTAL", "3"),
        Duration::from_secs(60),
    );
    assert_exit(&out, 2);
    assert_stderr_contains(&out, "SLURM_ARRAY_TASK_ID=\"1\u{fffd}\" is not a number");
}
