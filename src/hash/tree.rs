//! One big BLAKE3 input hashed as independent subtrees, each read front to back by one thread.
//!
//! Why: on a cold disk the device needs several reads in flight, and the page cache's
//! read-ahead follows one sequential stream per region. blake3's rayon path over a window
//! spreads every core over the *same* window, so all wait for the same faults; b3sum's
//! whole-file map sends the cores to far-apart regions (docs/performance.md, "How big files
//! are read", has the figures). BLAKE3 is a tree, so the split can be made explicitly: the
//! input is cut where blake3 itself cuts it (`left_subtree_len`), halves go to rayon's
//! `join`, and a range of at most `leaf` bytes is one leaf, read by a caller's function into a
//! hasher that knows its offset. Each core then walks its own region front to back through
//! pieces of the leaf's size — one stream per core, and resident memory bounded by one piece
//! per core.
//!
//! The chaining values are merged as blake3 merges them (`hazmat`); tests compare with
//! `blake3::hash`, `keyed_hash`, `derive_key` and extended output for sizes around the cuts.

use blake3::hazmat::{self, ChainingValue, HasherExt};

use crate::hash::algo::{Digest, Mode};

/// BLAKE3 of `size` bytes (more than `leaf`, which is a power of two of at least a chunk),
/// each leaf's bytes fed by `read(offset, len, hasher)`. The first leaf error stops the
/// result (other leaves may still be running; `read` can check a flag of its own to stop
/// early).
#[cfg(test)]
pub fn digest<E: Send>(
    mode: &Mode,
    size: u64,
    leaf: u64,
    read: &(impl Fn(u64, u64, &mut blake3::Hasher) -> Result<(), E> + Sync),
) -> Result<Digest, E> {
    let keys = Keys::of(mode);
    let leaf_cv = |offset: u64, len: u64| {
        let mut hasher = keys.hasher();
        hasher.set_input_offset(offset);
        read(offset, len, &mut hasher)?;
        Ok(hasher.finalize_non_root())
    };
    digest_of_leaves(mode, size, leaf, &leaf_cv)
}

/// [`digest`] with each leaf's chaining value made by `leaf_cv(offset, len)` (a leaf that
/// also keeps its group values, `hash::groups`).
pub fn digest_of_leaves<E: Send>(
    mode: &Mode,
    size: u64,
    leaf: u64,
    leaf_cv: &(impl Fn(u64, u64) -> Result<ChainingValue, E> + Sync),
) -> Result<Digest, E> {
    debug_assert!(leaf.is_power_of_two() && leaf >= blake3::CHUNK_LEN as u64 && size > leaf);
    let keys = Keys::of(mode);
    let left = hazmat::left_subtree_len(size);
    let (l, r) = rayon::join(
        || subtree(&keys, 0, left, leaf, leaf_cv),
        || subtree(&keys, left, size - left, leaf, leaf_cv),
    );
    Ok(root(&keys, (&l?, &r?), mode))
}

/// The digest in `mode` of the input whose two top subtrees have the values `l` and `r`
/// (its length and offset in BLAKE3's extended output).
pub(crate) fn root(keys: &Keys, (l, r): (&ChainingValue, &ChainingValue), mode: &Mode) -> Digest {
    let hazmat_mode = keys.hazmat_mode();
    if mode.len == 32 && mode.seek == 0 {
        return Digest::Blake3(hazmat::merge_subtrees_root(l, r, hazmat_mode));
    }
    let mut out = vec![0u8; mode.len];
    let mut reader = hazmat::merge_subtrees_root_xof(l, r, hazmat_mode);
    reader.set_position(mode.seek);
    reader.fill(&mut out);
    Digest::Bytes(out.into_boxed_slice())
}

/// The chaining value of the subtree of `len` bytes at `offset`.
fn subtree<E: Send>(
    keys: &Keys,
    offset: u64,
    len: u64,
    leaf: u64,
    leaf_cv: &(impl Fn(u64, u64) -> Result<ChainingValue, E> + Sync),
) -> Result<ChainingValue, E> {
    if len <= leaf {
        return leaf_cv(offset, len);
    }
    let left = hazmat::left_subtree_len(len);
    let (l, r) = rayon::join(
        || subtree(keys, offset, left, leaf, leaf_cv),
        || subtree(keys, offset + left, len - left, leaf, leaf_cv),
    );
    Ok(hazmat::merge_subtrees_non_root(
        &l?,
        &r?,
        keys.hazmat_mode(),
    ))
}

/// The mode's key material, derived once per file.
pub(crate) enum Keys {
    Hash,
    Keyed([u8; 32]),
    Derive(hazmat::ContextKey),
}

impl Keys {
    pub(crate) fn of(mode: &Mode) -> Keys {
        match (&mode.key, &mode.context) {
            (Some(key), _) => Keys::Keyed(*key),
            (None, Some(ctx)) => Keys::Derive(hazmat::hash_derive_key_context(ctx)),
            (None, None) => Keys::Hash,
        }
    }

    pub(crate) fn hasher(&self) -> blake3::Hasher {
        match self {
            Keys::Hash => blake3::Hasher::new(),
            Keys::Keyed(key) => blake3::Hasher::new_keyed(key),
            Keys::Derive(ck) => blake3::Hasher::new_from_context_key(ck),
        }
    }

    pub(crate) fn hazmat_mode(&self) -> hazmat::Mode<'_> {
        match self {
            Keys::Hash => hazmat::Mode::Hash,
            Keys::Keyed(key) => hazmat::Mode::KeyedHash(key),
            Keys::Derive(ck) => hazmat::Mode::DeriveKeyMaterial(ck),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::algo::Algo;

    fn whole(mode: &Mode, data: &[u8]) -> Digest {
        let mut d = mode.digester();
        d.update(data);
        d.finish(mode)
    }

    fn split(mode: &Mode, data: &[u8], leaf: u64) -> Digest {
        let read = |offset: u64, len: u64, h: &mut blake3::Hasher| -> Result<(), ()> {
            h.update(&data[offset as usize..(offset + len) as usize]);
            Ok(())
        };
        digest(mode, data.len() as u64, leaf, &read).unwrap()
    }

    #[test]
    fn matches_blake3_in_every_mode_around_the_cuts() {
        let data: Vec<u8> = (0..(40 * 1024 + 3)).map(|i| (i % 251) as u8).collect();
        let mut modes = vec![Mode::of(Algo::Blake3)];
        let mut keyed = Mode::of(Algo::Blake3);
        keyed.key = Some([7; 32]);
        modes.push(keyed);
        let mut derive = Mode::of(Algo::Blake3);
        derive.context = Some("b3tree test context".into());
        modes.push(derive);
        let mut xof = Mode::of(Algo::Blake3);
        xof.len = 100;
        xof.seek = 77;
        modes.push(xof);
        for mode in &modes {
            for leaf in [1024u64, 2048, 8192] {
                for size in [
                    leaf + 1,
                    2 * leaf,
                    2 * leaf + 1,
                    5 * leaf - 1,
                    40 * 1024 + 3,
                ] {
                    let bytes = &data[..size as usize];
                    assert_eq!(
                        split(mode, bytes, leaf),
                        whole(mode, bytes),
                        "{mode:?} leaf {leaf} size {size}"
                    );
                }
            }
        }
    }

    #[test]
    fn leaves_cover_the_input_once_each_within_the_leaf_size() {
        let seen = std::sync::Mutex::new(Vec::new());
        let read = |offset: u64, len: u64, h: &mut blake3::Hasher| -> Result<(), ()> {
            seen.lock().unwrap().push((offset, len));
            h.update(&vec![0; len as usize]);
            Ok(())
        };
        digest(&Mode::default(), 100 * 1024 + 5, 4096, &read).unwrap();
        let mut seen = seen.into_inner().unwrap();
        seen.sort();
        let mut next = 0;
        for (offset, len) in seen {
            assert_eq!(offset, next);
            assert!(len > 0 && len <= 4096 && offset % 4096 == 0);
            next = offset + len;
        }
        assert_eq!(next, 100 * 1024 + 5);
    }

    #[test]
    fn a_leaf_error_is_the_result() {
        let read = |offset: u64, len: u64, h: &mut blake3::Hasher| -> Result<(), u64> {
            h.update(&vec![0; len as usize]);
            if offset == 8192 { Err(offset) } else { Ok(()) }
        };
        assert_eq!(digest(&Mode::default(), 20_000, 4096, &read), Err(8192));
    }
}
