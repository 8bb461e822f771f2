//! Canonical order of names: component by component (split at `/`), each component by its
//! bytes — the order `hash` writes, the tree digest and shards are defined over, `merge`
//! and `--update` read in.

use std::cmp::Ordering;

/// Follows a stream of names that must come in canonical order: remembers the last one
/// accepted and tells whether each next name sorts strictly after it.
#[derive(Default)]
pub struct OrderCheck {
    last: Option<Vec<u8>>,
}

impl OrderCheck {
    /// Accepts `name` when it is the first or sorts strictly after the last one accepted;
    /// otherwise (out of order, or the same name again) returns that last name, which stays.
    pub fn next(&mut self, name: &[u8]) -> Result<(), &[u8]> {
        let in_order = self
            .last
            .as_deref()
            .is_none_or(|last| canonical_cmp(last, name) == Ordering::Less);
        if !in_order {
            return Err(self.last.as_deref().unwrap_or_default());
        }
        let last = self.last.get_or_insert_with(Vec::new);
        last.clear();
        last.extend_from_slice(name);
        Ok(())
    }
}

/// Canonical order of names: component by component, bytewise.
pub fn canonical_cmp(a: &[u8], b: &[u8]) -> Ordering {
    a.split(|&c| c == b'/').cmp(b.split(|&c| c == b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_check_accepts_only_strictly_increasing_names() {
        let mut o = OrderCheck::default();
        assert_eq!(o.next(b"a/b"), Ok(()));
        assert_eq!(o.next(b"a.txt"), Ok(()), "components compare: a < a.txt");
        assert_eq!(o.next(b"a.txt"), Err(&b"a.txt"[..]), "a repeat");
        assert_eq!(
            o.next(b"a/c"),
            Err(&b"a.txt"[..]),
            "out of order; the last stays"
        );
        assert_eq!(o.next(b"b"), Ok(()));
    }

    #[test]
    fn canonical_order_is_componentwise() {
        let mut v: Vec<&[u8]> = vec![b"a.txt", b"a/z", b"a-b", b"B", b"a/b/c", b"a0"];
        v.sort_by(|x, y| canonical_cmp(x, y));
        assert_eq!(
            v,
            vec![&b"B"[..], b"a/b/c", b"a/z", b"a-b", b"a.txt", b"a0"]
        );
    }
}
