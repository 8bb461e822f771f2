//! b3tree's own temporary files: their names, which the walker recognises (it never hashes
//! another run's half-written manifest or journal), and the one way they are made — in the
//! directory of the file they become, known to the signal handler until they are renamed
//! into place or removed (the `-o` manifest, `--update`'s journal).

use std::fs::File;
use std::io;
use std::path::Path;

use tempfile::TempPath;

use crate::sys::cancel;

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

/// A temporary file of b3tree's: removed when dropped, and by the signal handler if a signal
/// ends the run first, until [`Temp::rename_to`] gives it its final name.
pub struct Temp(Option<TempPath>);

/// Creates a temporary file in `dir` with `mode` (the umask may take more), held under an
/// exclusive `flock` for as long as it is open: a later run that finds it unlocked knows its
/// run is gone ([`remove_stale`]). The lock is taken once the file exists; if a cleaner took
/// the file for a dead run's in between (it is no longer linked once the lock is ours), it
/// is made again. The error says what went wrong, not tempfile's name for the file: the
/// caller names the user's path.
pub fn create_in(dir: &Path, mode: u32) -> io::Result<(File, Temp)> {
    use std::os::unix::fs::MetadataExt;
    for _ in 0..8 {
        let (file, temp) = create_unlocked(dir, mode)?;
        // Waits only while a cleaner holds it (it looks, then lets go). A filesystem
        // without locks is no error: there, no cleaner can take the lock either.
        if rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive).is_err()
            || file.metadata()?.nlink() > 0
        {
            return Ok((file, temp));
        }
    }
    Err(io::Error::other(
        "its temporary files were removed as soon as they were made, eight times",
    ))
}

fn create_unlocked(dir: &Path, mode: u32) -> io::Result<(File, Temp)> {
    use std::os::unix::fs::PermissionsExt;
    let (file, path) = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(TEMP_SUFFIX)
        .permissions(std::fs::Permissions::from_mode(mode))
        .tempfile_in(dir)
        .map_err(|e| {
            // tempfile's message ends "… at path \"<its temporary file>\"" (its error keeps
            // no OS error code to rebuild it from).
            let text = e.to_string();
            let what = text.split(" at path ").next().unwrap_or(&text);
            io::Error::new(e.kind(), what.to_string())
        })?
        .into_parts();
    cancel::register_temp_file(path.to_path_buf());
    Ok((file, Temp(Some(path))))
}

impl Temp {
    /// Where it is now (None once renamed).
    pub fn path(&self) -> Option<&Path> {
        self.0.as_deref()
    }

    /// Gives the file its name `dest`: replacing what is there, or (`replace` false) never
    /// (AlreadyExists then; a rename that cannot refuse to replace falls back to a hard
    /// link). It stays registered during the rename: a signal before it removes the
    /// temporary file (`dest` untouched), one after finds nothing to remove. On failure it
    /// keeps its temporary name, for another try or for its drop to remove.
    pub fn rename_to(&mut self, dest: &Path, replace: bool) -> io::Result<()> {
        let Some(path) = self.0.take() else {
            return Err(io::Error::other("temporary file already renamed"));
        };
        let registered = path.to_path_buf();
        let renamed = match replace {
            true => path.persist(dest),
            false => path.persist_noclobber(dest),
        };
        match renamed {
            Ok(()) => {
                cancel::unregister_temp_file(&registered);
                Ok(())
            }
            Err(e) => {
                self.0 = Some(e.path);
                Err(e.error)
            }
        }
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        if let Some(path) = &self.0 {
            cancel::unregister_temp_file(path);
        }
        // The TempPath's own drop then removes the file.
    }
}

/// Removes from `dir` the temporary files of runs that are gone (SIGKILL, a power cut): b3tree's
/// temporary names (`.b3tree-*.tmp`), regular files owned by this user that no run holds
/// (their lock can be taken). Another run's file, being written, is locked and stays; what
/// cannot be told (no locks on this filesystem, another owner) stays too.
pub fn remove_stale(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if is_made_name(entry.file_name().as_encoded_bytes()) {
            remove_unlocked(&entry.path());
        }
    }
}

/// Exactly the shape [`create_in`] gives its files: `.b3tree-`, six letters or digits,
/// `.tmp` (a user's `.b3tree-notes.tmp` is not one).
fn is_made_name(name: &[u8]) -> bool {
    name.len() == TEMP_PREFIX.len() + 6 + TEMP_SUFFIX.len()
        && is_temp_name(name)
        && name[TEMP_PREFIX.len()..TEMP_PREFIX.len() + 6]
            .iter()
            .all(u8::is_ascii_alphanumeric)
}

/// Removes the file at `path` if it is ours (a regular file owned by this user, never
/// through a symlink) and no run holds it (its lock can be taken): a file a live run is
/// writing, or a file someone else put there, is left alone.
pub fn remove_unlocked(path: &Path) {
    use std::os::unix::fs::MetadataExt;
    let Ok(Some(file)) = crate::sys::resolve::open_regular(path) else {
        return;
    };
    let me = rustix::process::geteuid().as_raw();
    // One name only: a hard link of another file under a temporary name is not ours to
    // remove (a temporary file of ours is never linked twice).
    let ours = (file.metadata()).is_ok_and(|m| m.uid() == me && m.nlink() == 1);
    let free =
        rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_ok();
    // Locked, and still the file under that name: a third run may have removed it (and a
    // fourth created a new file of that name, locked from birth) since it was opened.
    if ours && free && still_named(&file, path) {
        let _ = std::fs::remove_file(path);
    }
}

/// The open `file` is still linked, and is the file under `path` (not followed).
pub fn still_named(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(held), Ok(named)) => {
            held.nlink() > 0 && (held.dev(), held.ino()) == (named.dev(), named.ino())
        }
        _ => false,
    }
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
        assert!(is_made_name(b".b3tree-Ab12cD.tmp"));
        assert!(!is_made_name(b".b3tree-notes-keep.tmp"));
        assert!(!is_made_name(b".b3tree-ab/12c.tmp"));
    }
}
