//! How a run ends, as one type for every command; the numbers are the field's conventions
//! (docs/guide.md "Exit status"): usage and fatal errors are both 2, as in GNU coreutils.

/// The outcome of a command, mapped to a process exit status by [`Exit::code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything hashed, verified, merged.
    Ok,
    /// Something failed verification or could not be hashed (error records, MISSING, NEW...).
    Failed,
    /// Bad flags, an unreadable manifest.
    Usage,
    /// The run could not go on: the output cannot be written, too few descriptors.
    Fatal,
    /// A signal ended the run (`main` then dies of it; this code is the fallback).
    Interrupted,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Failed => 1,
            Exit::Usage | Exit::Fatal => 2,
            Exit::Interrupted => 130,
        }
    }
}

/// Why a command could not go on: a usage error (bad flags, an unreadable manifest) or a
/// fatal one (the output cannot be written). Commands return it with `?`; the library's `run`
/// says its message once, on stderr, and maps it to its exit status — so no command prints a
/// failure and picks a status in two places.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fail {
    pub exit: Exit,
    /// The line said (without the `b3tree: ` prefix); empty when it was said already.
    pub message: String,
}

impl Fail {
    /// Exit status 2, as a usage error.
    pub fn usage(message: impl Into<String>) -> Self {
        Fail {
            exit: Exit::Usage,
            message: message.into(),
        }
    }

    /// Exit status 2, as a fatal error.
    pub fn fatal(message: impl Into<String>) -> Self {
        Fail {
            exit: Exit::Fatal,
            message: message.into(),
        }
    }

    /// A fatal error whose cause was said already (or needs no word): nothing more is said.
    pub fn said() -> Self {
        Fail::fatal(String::new())
    }

    /// Output that could not be written (`cannot write WHAT: why`): fatal, and said unless
    /// its reader left (a broken pipe ends quietly, as GNU tools end).
    pub fn unwritten(what: &str, e: &std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Fail::said();
        }
        Fail::fatal(format!("cannot write {what}: {e}"))
    }

    /// Status 1: the run's own verdict (a malformed manifest line, a duplicate entry).
    pub fn failed(message: impl Into<String>) -> Self {
        Fail {
            exit: Exit::Failed,
            message: message.into(),
        }
    }
}

/// What a command returns: how it ended, or why it could not go on.
pub type Ended = Result<Exit, Fail>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_conventions() {
        let codes: Vec<u8> = [
            Exit::Ok,
            Exit::Failed,
            Exit::Usage,
            Exit::Fatal,
            Exit::Interrupted,
        ]
        .iter()
        .map(|e| e.code())
        .collect();
        assert_eq!(codes, [0, 1, 2, 2, 130]);
    }
}
