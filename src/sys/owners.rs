//! Owner and group names for a tree spec's `uname` and `gname` (the passwd and group
//! databases, through NSS, by the `uzers` crate), each id looked up once per run: a tree of
//! a million files has a handful of owners.

use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;

/// Names by id, as found (None: the id has no name here).
#[derive(Debug, Default)]
pub struct Owners {
    users: HashMap<u32, Option<Box<[u8]>>>,
    groups: HashMap<u32, Option<Box<[u8]>>>,
}

impl Owners {
    /// The name of user `uid`.
    pub fn user(&mut self, uid: u32) -> Option<&[u8]> {
        self.users
            .entry(uid)
            .or_insert_with(|| uzers::get_user_by_uid(uid).map(|u| u.name().as_bytes().into()))
            .as_deref()
    }

    /// The name of group `gid`.
    pub fn group(&mut self, gid: u32) -> Option<&[u8]> {
        self.groups
            .entry(gid)
            .or_insert_with(|| uzers::get_group_by_gid(gid).map(|g| g.name().as_bytes().into()))
            .as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_has_its_name_and_an_unused_id_none() {
        let mut o = Owners::default();
        assert_eq!(o.user(0), Some(&b"root"[..]));
        assert_eq!(o.group(0), Some(&b"root"[..]));
        assert_eq!(o.user(3_999_999_999), None);
    }
}
