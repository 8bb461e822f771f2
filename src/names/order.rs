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

/// Canonical order of names: component by component, bytewise. Computed in one pass: at
/// the first byte where the names differ, the end of a name sorts first, then a `/` (the end
/// of a component: what came before is a prefix of the other's component), then the bytes
/// by value — the same order as comparing the lists of components (a test holds the two
/// together), without splitting.
pub fn canonical_cmp(a: &[u8], b: &[u8]) -> Ordering {
    let common = a.len().min(b.len());
    let at = (a[..common].iter().zip(&b[..common]))
        .position(|(x, y)| x != y)
        .unwrap_or(common);
    let rank = |name: &[u8]| match name.get(at) {
        None => 0u16,
        Some(b'/') => 1,
        Some(&byte) => u16::from(byte) + 2,
    };
    rank(a).cmp(&rank(b))
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

    proptest::proptest! {
        #[test]
        fn the_one_pass_order_is_the_order_of_component_lists(
            a in proptest::collection::vec(proptest::sample::select(b"ab/.-\xff".to_vec()), 0..8),
            b in proptest::collection::vec(proptest::sample::select(b"ab/.-\xff".to_vec()), 0..8),
        ) {
            let by_components = a.split(|&c| c == b'/').cmp(b.split(|&c| c == b'/'));
            proptest::prop_assert_eq!(canonical_cmp(&a, &b), by_components);
        }
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
