//! The names of b3tree's own temporary files. They are chosen by the output writer and
//! recognised by the walker, which never hashes another run's half-written manifest.

/// Names of b3tree's temporary files: `.b3tree-XXXXXX.tmp`. `hash` never hashes a name of
/// this shape (another run's half-written manifest), but counts it as skipped.
pub const TEMP_PREFIX: &str = ".b3tree-";
pub const TEMP_SUFFIX: &str = ".tmp";

/// True for a file name of b3tree's temporary files.
pub fn is_temp_name(name: &[u8]) -> bool {
    name.len() >= TEMP_PREFIX.len() + TEMP_SUFFIX.len()
        && name.starts_with(TEMP_PREFIX.as_bytes())
        && name.ends_with(TEMP_SUFFIX.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_are_recognised() {
        assert!(is_temp_name(b".b3tree-abc123.tmp"));
        assert!(!is_temp_name(b".b3tree-.tm"));
        assert!(!is_temp_name(b"b3tree-abc.tmp"));
        assert!(!is_temp_name(b".b3tree-abc.tmp.partial"));
    }
}
