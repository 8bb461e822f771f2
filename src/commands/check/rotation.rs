//! Rotating verification (`--subset P%`, `--max-duration D`): how fresh a run leaves the
//! knowledge of the entries, and how the closing lines say it. Which entries a run reads,
//! and in what order, is `pick`'s.

use std::collections::HashSet;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, UNIX_EPOCH};

use super::pick::{Chosen, Rotate};
use crate::config::check::Rotation;
use crate::hash::algo::Digest;
use crate::manifest::read::Opened;
use crate::names::escape::display;
use crate::names::nameset::Location;
use crate::record::Coverage;
use crate::state::checked::{Checked, Journal, Status, When, key, now};

/// What the plan opened for rotation: each manifest again (its lines are read again by
/// offset) and its records.
pub(super) struct RotationPlan {
    rotation: Rotation,
    files: Vec<File>,
    checked: Vec<Checked>,
    deadline: Option<Instant>,
}

impl RotationPlan {
    /// Every manifest must be a file (the records live beside it, its lines are read twice);
    /// the time budget starts now.
    pub(super) fn open(
        rotation: Rotation,
        manifests: &[PathBuf],
        opened: &Opened,
    ) -> Result<RotationPlan, String> {
        // A budget beyond what a clock can count is none.
        let deadline = (rotation.max_duration).and_then(|d| Instant::now().checked_add(d));
        let mut plan = RotationPlan {
            rotation,
            files: Vec::new(),
            checked: Vec::new(),
            deadline,
        };
        let mut reals: Vec<PathBuf> = Vec::new();
        for (i, path) in manifests.iter().enumerate() {
            let shown = display(path.as_os_str().as_encoded_bytes());
            if !opened.rereadable.get(i).copied().unwrap_or(false) {
                return Err(format!(
                    "--subset and --max-duration keep when each entry was verified beside the \
                     manifest: {shown} must be a file (not standard input or a pipe)"
                ));
            }
            let file = File::open(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
            let meta = file
                .metadata()
                .map_err(|e| format!("cannot read {shown}: {e}"))?;
            if opened.ids.get(i) != Some(&(meta.dev(), meta.ino())) {
                return Err(format!("{shown} was replaced while it was opened"));
            }
            let real = std::fs::canonicalize(path).map_err(|e| format!("{shown}: {e}"))?;
            if reals.contains(&real) {
                return Err(format!(
                    "{shown} is given twice: its record of checks would be written twice"
                ));
            }
            reals.push(real.clone());
            plan.files.push(file);
            plan.checked.push(Checked::load(&real));
        }
        Ok(plan)
    }

    /// What it cannot use of the records, said once each.
    pub(super) fn notices(&self) -> Vec<String> {
        self.checked
            .iter()
            .flat_map(|c| c.notices.clone())
            .collect()
    }

    /// The source's part and the sink's: each manifest's journal started. A journal that
    /// cannot be made (a read-only directory, a full disk) is said: the run verifies as
    /// chosen, and the next one cannot know it did.
    pub(super) fn start(self, zero: bool) -> (Rotate, Rotated, Vec<String>) {
        let checked: Vec<Arc<Checked>> = self.checked.into_iter().map(Arc::new).collect();
        let mut warnings = Vec::new();
        let journals: Vec<Option<Journal>> = checked
            .iter()
            .map(|c| {
                c.journal()
                    .inspect_err(|e| {
                        warnings.push(format!(
                            "cannot keep the record of this run's checks ({}): {e}; the next \
                             run will choose as if this one had not run",
                            display(c.path().as_os_str().as_encoded_bytes())
                        ));
                    })
                    .ok()
            })
            .collect();
        let rotate = Rotate {
            rotation: self.rotation,
            files: self.files,
            checked: checked.clone(),
            deadline: self.deadline,
            zero,
        };
        let journals = Arc::new(Mutex::new(journals));
        let stop = Arc::new(AtomicBool::new(false));
        // What was verified reaches the journals within a second, even while a big file is
        // read for minutes and no other verdict comes (a SIGKILL loses at most that second).
        let (shared, stopped) = (Arc::clone(&journals), Arc::clone(&stop));
        let _ = std::thread::Builder::new()
            .name("b3tree-records".into())
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    std::thread::sleep(FLUSH_EVERY);
                    let mut journals = shared.lock().unwrap_or_else(|e| e.into_inner());
                    for j in journals.iter_mut().flatten() {
                        let _ = j.flush();
                    }
                }
            });
        let rotated = Rotated {
            journals,
            stop,
            checked,
            done: HashSet::new(),
            budget_spent: false,
        };
        (rotate, rotated, warnings)
    }

    pub(super) fn deadline(&self) -> Option<Instant> {
        self.deadline
    }
}

/// What the sink keeps of a rotating run: each manifest's journal, the entries checked (a
/// verdict reached).
pub(super) struct Rotated {
    journals: Arc<Mutex<Vec<Option<Journal>>>>,
    /// Ends the thread that writes the journals out.
    stop: Arc<AtomicBool>,
    checked: Vec<Arc<Checked>>,
    /// The entries that reached a verdict in this run.
    done: HashSet<Location>,
    /// The time budget ended reads.
    pub budget_spent: bool,
}

/// How often the journals are written out.
const FLUSH_EVERY: Duration = Duration::from_millis(500);

impl Rotated {
    /// (device, inode) of this run's journals.
    pub(super) fn ids(&self) -> Vec<(u64, u64)> {
        let journals = self.journals.lock().unwrap_or_else(|e| e.into_inner());
        journals.iter().flatten().filter_map(Journal::id).collect()
    }

    /// The entry `name` at `at` reached its verdict (`ok`: verified OK): checked now.
    pub(super) fn settled(&mut self, name: &[u8], at: Location, expected: &Digest, ok: bool) {
        self.done.insert(at);
        let status = if ok { Status::Ok } else { Status::Failed };
        self.record(name, at, expected, status);
    }

    /// The entry `name` at `at` was being read when the time budget ended: unverified, it
    /// goes to the back of the line (an entry longer than any budget holds no one back).
    pub(super) fn dropped(&mut self, name: &[u8], at: Location, expected: &Digest) {
        self.record(name, at, expected, Status::Dropped);
    }

    fn record(&mut self, name: &[u8], at: Location, expected: &Digest, status: Status) {
        let mut journals = self.journals.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(Some(j)) = journals.get_mut(at.0 as usize) {
            j.checked(&key(name), expected.as_bytes(), status);
        }
    }

    /// The coverage, and the records written (what could not be, said as warnings);
    /// `whole`: every entry of the manifests was asked for (see `Checked::commit`).
    pub(super) fn finish(self, chosen: &Chosen, whole: bool) -> (Coverage, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        let mut coverage = coverage(chosen, &self.done);
        coverage.budget_spent |= self.budget_spent;
        let journals =
            std::mem::take(&mut *self.journals.lock().unwrap_or_else(|e| e.into_inner()));
        let mut warnings = Vec::new();
        for (checked, journal) in self.checked.into_iter().zip(journals) {
            let Some(journal) = journal else { continue }; // said at the start
            let done = match Arc::try_unwrap(checked) {
                Ok(c) => c.commit(journal, whole),
                Err(_) => Err("the records are still in use".into()),
            };
            if let Err(e) = done {
                warnings.push(format!("the record of when entries were verified: {e}"));
            }
        }
        (coverage, warnings)
    }
}

/// How fresh the run leaves the knowledge of the entries: `done` holds those checked in
/// this run (a verdict reached).
fn coverage(chosen: &Chosen, done: &HashSet<Location>) -> Coverage {
    let (mut never, now) = (0, now());
    let mut oldest: Option<When> = None;
    for (at, last) in &chosen.candidates {
        match done.contains(at).then_some(now).or(*last) {
            None => never += 1,
            Some(t) => oldest = Some(oldest.map_or(t, |o| o.min(t))),
        }
    }
    let (entries, checked) = (chosen.candidates.len() as u64, done.len() as u64);
    Coverage {
        entries,
        checked,
        not_checked: entries.saturating_sub(checked),
        never_checked: never,
        oldest_check: oldest.map(|(s, _)| s),
        budget_spent: chosen.budget_spent,
    }
}

/// The coverage as the closing lines say it: `checked 25 of 200 entries (12.5%) in 10m 0s;
/// 0 failed; not checked in this run: 175; never checked: 50; oldest check: 2026-11-29 (7
/// days ago)`.
pub(super) fn said(c: &Coverage, failed: u64, elapsed_s: u64) -> String {
    let share = match c.entries {
        0 => 100.0,
        n => 100.0 * c.checked as f64 / n as f64,
    };
    let mut s = format!(
        "checked {} of {} ({}%) in {}; {failed} failed; not checked in this run: {}; \
         never checked: {}",
        c.checked,
        crate::report::summary::plural(c.entries, "entry", "entries"),
        trim(share),
        duration(elapsed_s),
        c.not_checked,
        c.never_checked
    );
    if let Some(t) = c.oldest_check {
        let ago = (now().0 - t).max(0) / 86_400;
        let ago = match ago {
            0 => "today".to_string(),
            1 => "1 day ago".to_string(),
            n => format!("{n} days ago"),
        };
        s.push_str(&format!("; oldest check: {} ({ago})", date(t)));
    }
    if c.budget_spent && c.checked < c.entries {
        s.push_str("; the time budget ended the run");
    }
    s
}

/// A share with at most one decimal, without a trailing `.0`.
fn trim(p: f64) -> String {
    let text = format!("{:.1}", (p * 10.0).floor() / 10.0);
    text.strip_suffix(".0").map_or(text.clone(), str::to_string)
}

/// `10m 0s`, `1h 2m 3s`, `42s`.
fn duration(s: u64) -> String {
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m {s}s"),
        (h, m, s) => format!("{h}h {m}m {s}s"),
    }
}

/// The UTC date of Unix time `t`, `YYYY-MM-DD` (the records hold no time before 1970).
fn date(t: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_secs(t.max(0) as u64);
    let mut text = humantime::format_rfc3339_seconds(at).to_string();
    text.truncate(10);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_durations_and_shares_read_as_people_write_them() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(1_796_629_820), "2026-12-07");
        assert_eq!(date(951_782_400), "2000-02-29");
        assert_eq!(
            date(-86_400),
            "1970-01-01",
            "none before 1970: no panic either"
        );
        assert_eq!(duration(600), "10m 0s");
        assert_eq!(duration(42), "42s");
        assert_eq!(duration(3723), "1h 2m 3s");
        assert_eq!(trim(12.5), "12.5");
        assert_eq!(trim(100.0), "100");
        assert_eq!(trim(100.0 * 2.0 / 3.0), "66.6");
    }
}
