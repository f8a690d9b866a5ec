//! `ctime()`-style time stamps as setkey prints them.
//!
//! setkey prints `ctime(&t) + 4`, 20 characters, in the C library's local
//! time zone. [`Zone::Local`] asks the C library (the one place this module
//! needs `unsafe`); [`Zone::Utc`] and [`Zone::Fixed`] compute the calendar
//! in Rust so tests do not depend on the process environment.

use super::text::{ArrayText, Sink};

/// Which clock offset to render times in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Zone {
    /// The C library's local time (honours `TZ`, like setkey's `ctime`).
    #[default]
    Local,
    /// Coordinated Universal Time.
    Utc,
    /// A fixed offset east of UTC in seconds (no daylight saving rules).
    Fixed(i32),
}

/// Broken-down time, the fields `asctime` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tm {
    year: i64,
    /// 0..=11
    mon: u32,
    mday: u32,
    hour: u32,
    min: u32,
    sec: u32,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Days since 1970-01-01 to (year, month 1..=12, day) in the proleptic
/// Gregorian calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// UTC broken-down time of `t` seconds (after adding `offset`).
fn utc_tm(t: i64, offset: i64) -> Option<Tm> {
    let t = t.checked_add(offset)?;
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let (year, mon, mday) = civil_from_days(days);
    Some(Tm {
        year,
        mon: mon - 1,
        mday,
        hour: (secs / 3600) as u32,
        min: (secs / 60 % 60) as u32,
        sec: (secs % 60) as u32,
    })
}

/// Local broken-down time through the C library.
fn local_tm(t: i64) -> Option<Tm> {
    let t = libc::time_t::try_from(t).ok()?;
    // SAFETY: localtime_r is the reentrant form: it reads `t` and writes only
    // into our own zeroed `tm`, both valid for the call (glibc initialises
    // its zone state from TZ on first use). A null return (year overflow) is
    // checked.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return None;
        }
        tm
    };
    Some(Tm {
        year: i64::from(tm.tm_year) + 1900,
        mon: u32::try_from(tm.tm_mon).ok()?,
        mday: u32::try_from(tm.tm_mday).ok()?,
        hour: u32::try_from(tm.tm_hour).ok()?,
        min: u32::try_from(tm.tm_min).ok()?,
        sec: u32::try_from(tm.tm_sec).ok()?,
    })
}

/// Seconds east of UTC of the C library's local time at `t` (0 when the
/// C library cannot tell). `setkey -x` computes this once at start-up and
/// prints every time stamp with it.
pub fn local_offset(t: i64) -> i64 {
    let Some(t) = libc::time_t::try_from(t).ok() else {
        return 0;
    };
    // SAFETY: as in `local_tm`: reentrant, writes only into our own `tm`.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return 0;
        }
        // c_long is narrower than i64 on 32-bit targets.
        #[allow(clippy::useless_conversion)]
        i64::from(tm.tm_gmtoff)
    }
}

/// setkey's `str_time`: exactly what it prints for a time stamp `t`.
///
/// 0 gives 20 blanks; otherwise `asctime` text without the weekday, cut at
/// 20 characters (so the newline shows for 3-digit years and years of more
/// than 4 digits lose their tail); `????????????????????` when the C library
/// could not represent the time.
pub fn str_time(t: u64, zone: Zone) -> String {
    let text = TimeText::new(t, zone);
    text.as_bytes().iter().map(|&b| char::from(b)).collect()
}

/// The text of [`str_time`] in a fixed buffer: at most 20 ASCII bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeText {
    bytes: [u8; 20],
    len: u8,
}

impl TimeText {
    /// [`str_time`]'s text for `t`, without an allocation or `core::fmt`.
    pub fn new(t: u64, zone: Zone) -> TimeText {
        if t == 0 {
            return TimeText {
                bytes: [b' '; 20],
                len: 20,
            };
        }
        // time_t is signed: C's conversion of the kernel's u64 wraps.
        let t = t as i64;
        let tm = match zone {
            Zone::Local => local_tm(t),
            Zone::Utc => utc_tm(t, 0),
            Zone::Fixed(off) => utc_tm(t, i64::from(off)),
        };
        // glibc fails when tm_year (year − 1900) leaves int, and asctime when
        // the year itself would overflow.
        let tm = tm.filter(|tm| {
            i32::try_from(tm.year - 1900).is_ok() && i32::try_from(tm.year).is_ok() && tm.mon < 12
        });
        let Some(tm) = tm else {
            return TimeText {
                bytes: [b'?'; 20],
                len: 20,
            };
        };
        // "Mmm dd hh:mm:ss yyyy\n" (asctime's "%.3s%3d %.2d:%.2d:%.2d %d\n"
        // after the weekday); setkey copies 20 bytes and prints them with
        // %s: ctime's text ends with "\n\0", so a shorter text stops at
        // its NUL.
        let mut full = ArrayText::<48>::default();
        full.put(MONTHS[tm.mon as usize].as_bytes());
        let two = |full: &mut ArrayText<48>, v: u32, pad: u8| {
            full.put_byte(if v >= 10 {
                b'0' + (v / 10 % 10) as u8
            } else {
                pad
            });
            full.put_byte(b'0' + (v % 10) as u8);
        };
        full.put_byte(b' ');
        if tm.mday >= 100 {
            super::text::push_u64(&mut full, u64::from(tm.mday));
        } else {
            two(&mut full, tm.mday, b' ');
        }
        full.put_byte(b' ');
        two(&mut full, tm.hour, b'0');
        full.put_byte(b':');
        two(&mut full, tm.min, b'0');
        full.put_byte(b':');
        two(&mut full, tm.sec, b'0');
        full.put_byte(b' ');
        super::text::push_i64(&mut full, tm.year);
        full.put_byte(b'\n');
        let full = full.as_bytes();
        let mut bytes = [0u8; 20];
        let len = full.len().min(20);
        bytes[..len].copy_from_slice(&full[..len]);
        TimeText {
            bytes,
            len: len as u8,
        }
    }

    /// The text.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctime_forms() {
        assert_eq!(str_time(0, Zone::Utc), " ".repeat(20));
        assert_eq!(str_time(1_704_067_200, Zone::Utc), "Jan  1 00:00:00 2024");
        assert_eq!(str_time(1_511_244_917, Zone::Utc), "Nov 21 06:15:17 2017");
        assert_eq!(str_time(1_709_629_687, Zone::Utc), "Mar  5 09:08:07 2024");
        // one hour east
        assert_eq!(
            str_time(1_704_067_200, Zone::Fixed(3600)),
            "Jan  1 01:00:00 2024"
        );
        assert_eq!(
            str_time(1_704_067_200, Zone::Fixed(-1)),
            "Dec 31 23:59:59 2023"
        );
        // leap day
        assert_eq!(str_time(951_782_400, Zone::Utc), "Feb 29 00:00:00 2000");
    }

    #[test]
    fn odd_years() {
        // year 10000: the last digit is cut
        assert_eq!(str_time(253_402_300_800, Zone::Utc), "Jan  1 00:00:00 1000");
        // year 999 (negative time_t): the newline is inside the 20 chars
        let t = (-30_641_760_000i64) as u64; // 999-01-01
        assert_eq!(str_time(t, Zone::Utc), "Jan  1 00:00:00 999\n");
        // far beyond int years
        assert_eq!(str_time(u64::MAX / 2, Zone::Utc), "?".repeat(20));
        // u64::MAX is -1 as time_t: 1969
        assert_eq!(str_time(u64::MAX, Zone::Utc), "Dec 31 23:59:59 1969");
    }

    /// The text as `core::fmt` writes it (the formatter before
    /// [`TimeText`]), for the property test.
    fn with_fmt(t: u64, zone: Zone) -> String {
        if t == 0 {
            return " ".repeat(20);
        }
        let t = t as i64;
        let tm = match zone {
            Zone::Local => local_tm(t),
            Zone::Utc => utc_tm(t, 0),
            Zone::Fixed(off) => utc_tm(t, i64::from(off)),
        };
        let tm = tm.filter(|tm| {
            i32::try_from(tm.year - 1900).is_ok() && i32::try_from(tm.year).is_ok() && tm.mon < 12
        });
        let Some(tm) = tm else {
            return "?".repeat(20);
        };
        let full = format!(
            "{}{:>3} {:02}:{:02}:{:02} {}\n",
            MONTHS[tm.mon as usize], tm.mday, tm.hour, tm.min, tm.sec, tm.year
        );
        full.chars().take(20).collect()
    }

    proptest::proptest! {
        #[test]
        fn text_matches_fmt(t: u64, near in 0u64..20_000_000_000, off in -50_000i32..50_000) {
            for t in [t, near] {
                proptest::prop_assert_eq!(str_time(t, Zone::Utc), with_fmt(t, Zone::Utc));
                proptest::prop_assert_eq!(str_time(t, Zone::Fixed(off)), with_fmt(t, Zone::Fixed(off)));
                proptest::prop_assert_eq!(str_time(t, Zone::Local), with_fmt(t, Zone::Local));
            }
        }
    }

    #[test]
    fn local_matches_utc_when_tz_is_utc() {
        // Only meaningful when the test process runs with TZ=UTC.
        if std::env::var("TZ").as_deref() == Ok("UTC") {
            assert_eq!(
                str_time(1_511_244_917, Zone::Local),
                str_time(1_511_244_917, Zone::Utc)
            );
        }
    }
}
