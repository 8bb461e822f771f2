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

/// Creates a temporary file in `dir` with `mode` (the umask may take more). The error says
/// what went wrong, not tempfile's name for the file: the caller names the user's path.
pub fn create_in(dir: &Path, mode: u32) -> io::Result<(File, Temp)> {
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
