//! Command lines rewritten before clap parses them: the spellings other tools taught users.

/// `b3tree hash -c FILE…` and `b3tree -c FILE…` (or `--check`), the b3sum and GNU habits,
/// are `b3tree check FILE…`:
/// the command line is rewritten before parsing (check's own flags then apply: --quiet,
/// --status, --warn, --strict, --ignore-missing…).
pub fn alias_args(args: impl IntoIterator<Item = std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let mut v: Vec<std::ffi::OsString> = args.into_iter().collect();
    // The subcommand: the first word after the program that is not an option (or -C's DIR).
    let mut i = 1;
    while i < v.len() {
        match v[i].to_str() {
            Some("-C" | "--directory") => i += 2,
            // `b3tree -c FILE…` (a b3sum user's first try): check, with what follows as its
            // arguments.
            Some("-c" | "--check") => {
                v[i] = "check".into();
                return v;
            }
            Some(w) if w.starts_with('-') => i += 1,
            _ => break,
        }
    }
    if v.get(i).and_then(|w| w.to_str()) != Some("hash") {
        return v;
    }
    let end = v.iter().position(|w| w == "--").unwrap_or(v.len());
    if let Some(c) = v[i + 1..end]
        .iter()
        .position(|w| w == "-c" || w == "--check")
    {
        v.remove(i + 1 + c);
        v[i] = "check".into();
    }
    v
}

#[cfg(test)]
mod tests {
    use super::alias_args;

    fn run(args: &[&str]) -> Vec<String> {
        alias_args(args.iter().map(|a| a.into()))
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn hash_dash_c_is_check() {
        assert_eq!(
            run(&["b3tree", "hash", "-c", "m.b3"]),
            ["b3tree", "check", "m.b3"]
        );
        assert_eq!(
            run(&["b3tree", "-C", "d", "hash", "--quiet", "--check", "m"]),
            ["b3tree", "-C", "d", "check", "--quiet", "m"]
        );
        assert_eq!(
            run(&["b3tree", "hash", "--", "-c"]),
            ["b3tree", "hash", "--", "-c"]
        );
        assert_eq!(run(&["b3tree", "check", "-c"]), ["b3tree", "check", "-c"]);
    }

    #[test]
    fn a_top_level_dash_c_is_check() {
        assert_eq!(run(&["b3tree", "-c", "m.b3"]), ["b3tree", "check", "m.b3"]);
        assert_eq!(run(&["b3tree", "--check"]), ["b3tree", "check"]);
        assert_eq!(
            run(&["b3tree", "-C", "d", "-c", "-q", "m"]),
            ["b3tree", "-C", "d", "check", "-q", "m"]
        );
        // -C's DIR named "-c" is a directory, not the flag.
        assert_eq!(
            run(&["b3tree", "-C", "-c", "hash"]),
            ["b3tree", "-C", "-c", "hash"]
        );
    }
}
