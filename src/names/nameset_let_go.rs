//! The name set past its bound: names in order let go and looked up by reading them again;
//! out of order, fingerprinted again; a source changed since, an error.

use super::*;
use crate::names::relist::Reread;

type Source = std::sync::Arc<std::sync::Mutex<Vec<(Vec<u8>, Location)>>>;

/// Names given again from memory, as the manifests would be read again.
struct Given(Source);

impl Reread for Given {
    fn open(&self) -> std::io::Result<Box<dyn crate::names::relist::NameStream>> {
        Ok(Box::new(Stream(self.0.lock().unwrap().clone().into_iter())))
    }
}

struct Stream(std::vec::IntoIter<(Vec<u8>, Location)>);

impl crate::names::relist::NameStream for Stream {
    fn next_into(&mut self, name: &mut Vec<u8>) -> std::io::Result<Option<Location>> {
        Ok(self.0.next().map(|(n, at)| {
            *name = n;
            at
        }))
    }
}

/// A set over `names` (line numbers from 1) that lets go past 3 names; the source it
/// reads again, which a test may change.
fn let_go(names: &[&str]) -> (NameSet, Source) {
    let listed: Vec<(Vec<u8>, Location)> = (names.iter().enumerate())
        .map(|(i, n)| (normalize(n.as_bytes()), (0, i as u64 + 1)))
        .collect();
    let source = std::sync::Arc::new(std::sync::Mutex::new(listed.clone()));
    let mut set = NameSet::rereadable(Box::new(Given(source.clone())));
    set.kept = 3;
    for (n, at) in &listed {
        set.add(n, *at);
    }
    (set, source)
}

#[test]
fn names_in_order_are_let_go_and_still_found() {
    let names = ["a", "a/b", "a/b", "a/c", "a.txt", "b/x", "b/y", "c"];
    let (mut set, _) = let_go(&names);
    assert!(set.let_go && set.prints.is_empty());
    assert_eq!(set.finish(), Ok(vec![((0, 3), (0, 2))]));
    // Asked in canonical order, as a walk asks, then out of order (starts over).
    for (name, listed) in [
        ("a", true),
        ("a/a", false),
        ("a/c", true),
        ("a.txt", true),
        ("b", false),
        ("b/y", true),
        ("bb", false),
        ("a/b", true),
        ("./b/x", true),
        ("d", false),
    ] {
        assert_eq!(set.contains(name.as_bytes()), Some(listed), "{name}");
    }
    assert_eq!(set.lookups_ended(), Ok(()));
}

#[test]
fn names_out_of_order_after_letting_go_are_read_again() {
    let (mut set, _) = let_go(&["a", "b", "c", "d", "b", "e", "a"]);
    assert!(set.let_go && !set.tally.ordered);
    assert_eq!(set.finish(), Ok(vec![((0, 5), (0, 2)), ((0, 7), (0, 1))]));
    assert!(!set.let_go);
    assert_eq!(set.contains(b"e"), Some(true));
    assert_eq!(set.contains(b"d"), Some(true));
    assert_eq!(set.contains(b"f"), Some(false));
}

#[test]
fn a_source_changed_since_is_an_error_not_a_verdict() {
    // Out of order: the names are fingerprinted again, from a source that changed.
    let (mut set, source) = let_go(&["a", "b", "c", "d", "b"]);
    source.lock().unwrap()[1].0 = b"x".to_vec();
    assert_eq!(set.finish(), Err(crate::names::relist::CHANGED.to_string()));
    // In order: the lookups read it again; the end of them finds the change out.
    let (mut set, source) = let_go(&["a", "b", "c", "d", "e"]);
    assert_eq!(set.finish(), Ok(vec![]));
    source.lock().unwrap()[4].0 = b"f".to_vec();
    assert_eq!(set.contains(b"b"), Some(true));
    assert_eq!(
        set.lookups_ended(),
        Err(crate::names::relist::CHANGED.to_string())
    );
    // Shorter than it was.
    let (mut set, source) = let_go(&["a", "b", "c", "d", "e"]);
    source.lock().unwrap().pop();
    assert_eq!(set.finish(), Ok(vec![]));
    assert_eq!(set.contains(b"e"), None);
    assert!(set.lookups_ended().is_err());
}
