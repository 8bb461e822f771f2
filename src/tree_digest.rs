//! The tree digest (`b3t1:`) and shard assignment: two stable functions of what a manifest
//! records.
//!
//! Definition of `b3t1` (also in docs/digest.md, precise enough to reimplement):
//! BLAKE3 in derive-key mode with the context string [`DIGEST_CONTEXT`], fed, for every
//! regular file in canonical order, with
//!   `u64 little-endian length of NAME` ‖ `NAME bytes` ‖ `32-byte BLAKE3 digest of contents`,
//! where NAME is the path relative to the root with `/` separators (raw bytes, never lossy).
//! Canonical order compares names component by component (split at `/`), each component by
//! its bytes. The result is written `b3t1:` + 64 lowercase hex digits. Like Go's dirhash it
//! covers names and contents only: not modes, owners, times, symlinks or empty directories.

/// derive_key context of the v1 tree digest.
pub const DIGEST_CONTEXT: &str = "b3tree 2026-11-25 tree digest v1";
/// Prefix naming the digest version.
pub const DIGEST_PREFIX: &str = "b3t1:";
/// derive_key context of the shard assignment.
pub const SHARD_CONTEXT: &str = "b3tree 2026-11-25 shard v1";

/// Folds (name, digest) pairs, given in canonical order, into a tree digest.
pub struct TreeDigest {
    hasher: blake3::Hasher,
    count: u64,
}

impl Default for TreeDigest {
    fn default() -> Self {
        Self::new()
    }
}

impl TreeDigest {
    pub fn new() -> Self {
        TreeDigest {
            hasher: blake3::Hasher::new_derive_key(DIGEST_CONTEXT),
            count: 0,
        }
    }

    pub fn add(&mut self, name: &[u8], digest: &[u8; 32]) {
        self.hasher.update(&(name.len() as u64).to_le_bytes());
        self.hasher.update(name);
        self.hasher.update(digest);
        self.count += 1;
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// `b3t1:` + hex.
    pub fn finish(&self) -> String {
        format!("{DIGEST_PREFIX}{}", self.hasher.finalize().to_hex())
    }
}

/// The shard (0-based, of `n`) that `name` belongs to: a keyed hash of the name as written,
/// so every machine of a CI matrix agrees without talking to the others.
pub fn shard_of(name: &[u8], n: u64) -> u64 {
    let h = blake3::Hasher::new_derive_key(SHARD_CONTEXT)
        .update(name)
        .finalize();
    let x = u64::from_le_bytes(h.as_bytes()[..8].try_into().expect("8 bytes"));
    // Multiply-shift maps a uniform u64 to 0..n without modulo bias worth speaking of.
    ((u128::from(x) * u128::from(n)) >> 64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_tree_digest_is_fixed_and_framing_matters() {
        let empty = TreeDigest::new().finish();
        assert_eq!(
            empty,
            format!(
                "b3t1:{}",
                blake3::derive_key(DIGEST_CONTEXT, b"")
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            )
        );
        let mut a = TreeDigest::new();
        a.add(b"ab", &[0; 32]);
        let mut b = TreeDigest::new();
        b.add(b"a", &[0; 32]);
        assert_ne!(a.finish(), b.finish());
    }

    #[test]
    fn shards_parse_and_spread() {
        let mut counts = [0u32; 7];
        for i in 0..7000 {
            counts[shard_of(format!("f{i}").as_bytes(), 7) as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (850..1150).contains(&c)),
            "{counts:?}"
        );
    }
}

/// The first line of a shard manifest (after `# `): `b3tree shard K/N`.
pub fn shard_header(k: u64, n: u64) -> String {
    format!("b3tree shard {k}/{n}")
}

/// K and N from a shard manifest's first line (`# b3tree shard K/N`, LF or CRLF).
pub fn parse_shard_header(line: &[u8]) -> Option<(u64, u64)> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let rest = std::str::from_utf8(line.strip_prefix(b"# b3tree shard ")?).ok()?;
    let (k, n) = rest.split_once('/')?;
    let (k, n) = (k.parse().ok()?, n.parse().ok()?);
    (k < n).then_some((k, n))
}

#[cfg(test)]
mod shard_header_tests {
    use super::*;

    #[test]
    fn shard_headers_round_trip() {
        let line = format!("# {}\n", shard_header(2, 7));
        assert_eq!(parse_shard_header(line.as_bytes()), Some((2, 7)));
        assert_eq!(parse_shard_header(b"# b3tree shard 1/3\r\n"), Some((1, 3)));
        assert_eq!(parse_shard_header(b"# b3tree shard 3/3\n"), None);
        assert_eq!(parse_shard_header(b"# made by hand\n"), None);
    }
}
