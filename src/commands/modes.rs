//! `hash`'s b3sum and GNU options, resolved before the run: the digest mode (with `--keyed`'s
//! key read from standard input, as b3sum reads it), the shape of the lines, and b3sum's
//! `--num-threads` and `--no-mmap`.

use std::io::Read;

use crate::cli::HashArgs;
use crate::config;
use crate::exit::Exit;
use crate::hash::algo::Mode;
use crate::manifest::write::Shape;
use crate::report::stderr::say;

/// `--keyed`'s key: up to 33 bytes of standard input (more than 32 is refused as b3sum
/// refuses it), when `keyed`. `stdin_taken`: standard input is already `what` (an input, a
/// manifest), so it cannot also hold the key.
pub(crate) fn read_key(
    keyed: bool,
    stdin_taken: bool,
    what: &str,
) -> Result<Option<Vec<u8>>, String> {
    if !keyed {
        return Ok(None);
    }
    if stdin_taken {
        return Err(format!(
            "--keyed reads the key from standard input, so - cannot also be {what}"
        ));
    }
    let mut key = Vec::with_capacity(33);
    std::io::stdin()
        .take(33)
        .read_to_end(&mut key)
        .map_err(|e| format!("--keyed: cannot read the key from standard input: {e}"))?;
    Ok(Some(key))
}

/// The mode and line shape for `args`; a usage error is said and returned as `Err`.
pub(crate) fn resolve(args: &HashArgs) -> Result<(Mode, Shape), Exit> {
    let usage = |msg: String| {
        say(format_args!("{msg}"));
        Exit::Usage
    };
    let stdin_is_input = args.paths.iter().any(|p| p.as_os_str() == "-")
        || args
            .files_from
            .as_ref()
            .is_some_and(|f| f.as_os_str() == "-");
    let key = read_key(args.keys.keyed, stdin_is_input, "an input").map_err(usage)?;
    let mode = config::mode(Some(args.algo), &args.keys, args.seek, key, None).map_err(usage)?;
    if args.digest && !mode.is_default() {
        return Err(usage(
            "--digest (b3t1) is defined over default BLAKE3 digests: not with --algo, --keyed, \
             --derive-key, --length or --seek"
                .into(),
        ));
    }
    if args.raw {
        let one = args.paths.len() == 1
            && std::fs::metadata(&args.paths[0])
                .map_or(args.paths[0].as_os_str() == "-", |m| !m.is_dir());
        if !one {
            return Err(usage(
                "--raw writes one digest: give exactly one file (or -), as b3sum".into(),
            ));
        }
    }
    if let Some(n) = args.num_threads {
        // Before any big file is hashed: the pool BLAKE3 spreads one file over.
        // Named, so that `ps -L` (and a test) can count them.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n as usize)
            .thread_name(|i| format!("b3tree-rayon-{i}"))
            .build_global();
    }
    if args.no_mmap {
        crate::hash::big::disable_mmap();
    }
    let shape = Shape {
        names: !args.no_names,
        terminator: if args.zero { 0 } else { b'\n' },
        raw: args.raw,
    };
    Ok((mode, shape))
}
