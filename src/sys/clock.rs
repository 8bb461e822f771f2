//! Calendar times as seconds since the epoch, in UTC or in the local time zone — what
//! ssh-keygen does with an allowed-signers file's `valid-after`/`valid-before` (a time
//! without `Z` is local time, converted with the C library's own time-zone rules, as
//! ssh-keygen converts it: `mktime`; with `Z`, `timegm`).

use std::time::{SystemTime, UNIX_EPOCH};

/// A broken-down time: year, month (1–12), day, hour, minute, second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

/// Seconds since the epoch of `t`, read as UTC or as local time; None for a date that does
/// not exist (month 13, 31 February, hour 24) or cannot be represented.
pub fn epoch_seconds(t: Civil, utc: bool) -> Option<i64> {
    let valid = (1..=12).contains(&t.month)
        && (1..=days_in_month(t.year, t.month)).contains(&t.day)
        && t.hour < 24
        && t.minute < 60
        && t.second < 61;
    if !valid {
        return None;
    }
    // SAFETY: an all-zero `tm` is a valid value (integers and, on glibc, a null zone name).
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    tm.tm_year = t.year - 1900;
    tm.tm_mon = t.month as i32 - 1;
    tm.tm_mday = t.day as i32;
    tm.tm_hour = t.hour as i32;
    tm.tm_min = t.minute as i32;
    tm.tm_sec = t.second as i32;
    // Let the C library decide whether summer time applies.
    tm.tm_isdst = -1;
    // SAFETY: `tm` is a valid, exclusively borrowed struct; both functions only read and
    // normalise it.
    let secs = unsafe {
        if utc {
            libc::timegm(&mut tm)
        } else {
            libc::mktime(&mut tm)
        }
    };
    (secs != -1).then_some(secs)
}

/// The current time in seconds since the epoch.
pub fn now_seconds() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn civil(year: i32, month: u32, day: u32) -> Civil {
        Civil {
            year,
            month,
            day,
            hour: 0,
            minute: 0,
            second: 0,
        }
    }

    #[test]
    fn utc_dates() {
        assert_eq!(epoch_seconds(civil(1970, 1, 1), true), Some(0));
        assert_eq!(epoch_seconds(civil(2000, 3, 1), true), Some(951_868_800));
        assert_eq!(epoch_seconds(civil(2024, 2, 29), true), Some(1_709_164_800));
        assert_eq!(epoch_seconds(civil(2023, 2, 29), true), None);
        assert_eq!(epoch_seconds(civil(2023, 13, 1), true), None);
    }
}
