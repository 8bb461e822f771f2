//! How a run ends, as one type for every command; the numbers are the field's conventions
//! (README "Exit status"): usage and fatal errors are both 2, as in GNU coreutils.

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
