//! The floor: the least work any tool must do to hash a tree of small files, as a timing
//! reference for the project benchmark (`bench/run.sh`), not a tool.
//!
//!     cargo run --release --example floor -- DIR [THREADS] > /dev/null
//!
//! Why it exists: "close to what the machine can do" needs a figure for what the machine can
//! do. This is a lean synchronous loop, the kind of thing a user would write: walk the whole tree first (sorted, into
//! memory), then one thread per core takes 64 paths at a time and opens, reads to EOF into a
//! reused buffer, hashes and closes each file; the lines are printed in walk order at the end.
//! It has none of b3tree's guarantees — no fstat (so no type check, no "changed while hashing"),
//! no bounded memory, no cancellation, no error records (it stops at the first error), names
//! written raw — so its time is a lower bound on what a careful tool can reach with the same
//! system calls. b3tree is compared with it in `bench/run.sh`.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Paths a thread takes at once: enough that the shared counter is touched rarely.
const TAKE: usize = 64;

fn main() -> io::Result<()> {
    let mut args = std::env::args_os().skip(1);
    let root = PathBuf::from(args.next().expect("usage: floor DIR [THREADS]"));
    let threads = match args.next() {
        Some(n) => n
            .to_str()
            .and_then(|s| s.parse().ok())
            .expect("THREADS: a number"),
        None => std::thread::available_parallelism().map_or(2, |n| n.get()),
    };
    let mut paths = Vec::new();
    for entry in walkdir::WalkDir::new(&root).sort_by_file_name() {
        let entry = entry?;
        if entry.file_type().is_file() {
            paths.push(entry.into_path());
        }
    }
    let next = AtomicUsize::new(0);
    let digests = Mutex::new(vec![[0u8; 32]; paths.len()]);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| scope.spawn(|| hash_share(&paths, &next, &digests)))
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().expect("worker panicked"))
    })?;
    let mut out = io::BufWriter::new(io::stdout().lock());
    for (path, digest) in paths.iter().zip(digests.into_inner().expect("poisoned")) {
        write!(out, "{}  ", blake3::Hash::from(digest).to_hex())?;
        out.write_all(path.as_os_str().as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// Takes `TAKE` indices at a time until none are left; stores each file's digest at its index.
fn hash_share(
    paths: &[PathBuf],
    next: &AtomicUsize,
    digests: &Mutex<Vec<[u8; 32]>>,
) -> io::Result<()> {
    let mut buf = vec![0u8; 128 << 10];
    let mut done = Vec::with_capacity(TAKE);
    loop {
        let start = next.fetch_add(TAKE, Ordering::Relaxed);
        if start >= paths.len() {
            return Ok(());
        }
        let end = (start + TAKE).min(paths.len());
        done.clear();
        for path in &paths[start..end] {
            let mut file = File::open(path)?;
            let mut hasher = blake3::Hasher::new();
            loop {
                let n = file.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
            }
            done.push(*hasher.finalize().as_bytes());
        }
        digests.lock().expect("poisoned")[start..end].copy_from_slice(&done);
    }
}
