//! Time arithmetic: CMOS RTC decoding, calendar conversion and TSC scaling.
//!
//! The kernel reads raw CMOS registers and TSC values; turning them into Unix
//! time and nanoseconds happens here so it is tested. The RTC registers and
//! status bits follow the MC146818 data sheet as PC chipsets implement it.

use core::fmt;

/// Raw CMOS RTC registers as read (before BCD/12-hour decoding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RtcRaw {
    /// Register 0x00.
    pub second: u8,
    /// Register 0x02.
    pub minute: u8,
    /// Register 0x04 (bit 7: PM in 12-hour mode).
    pub hour: u8,
    /// Register 0x07.
    pub day: u8,
    /// Register 0x08.
    pub month: u8,
    /// Register 0x09.
    pub year: u8,
    /// The century register named by the FADT, when there is one.
    pub century: Option<u8>,
    /// Status register B (bit 1: 24-hour mode, bit 2: binary, not BCD).
    pub status_b: u8,
}

/// Why RTC values could not be turned into a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtcError {
    /// A field was out of range after decoding (a broken or unset clock).
    OutOfRange,
}

fn from_bcd(v: u8) -> u8 {
    (v >> 4) * 10 + (v & 0xf)
}

impl RtcRaw {
    /// Decodes the registers into seconds since the Unix epoch (UTC assumed,
    /// as QEMU and appliances keep the RTC in UTC).
    pub fn unix_seconds(&self) -> Result<u64, RtcError> {
        let binary = self.status_b & 0x04 != 0;
        let h24 = self.status_b & 0x02 != 0;
        let dec = |v: u8| if binary { v } else { from_bcd(v) };
        let pm = self.hour & 0x80 != 0;
        let mut hour = dec(self.hour & 0x7f);
        if !h24 {
            // 12-hour mode: 12 AM is 0, 12 PM is 12.
            hour %= 12;
            if pm {
                hour += 12;
            }
        }
        let (second, minute, day, month) = (
            dec(self.second),
            dec(self.minute),
            dec(self.day),
            dec(self.month),
        );
        let century = self.century.map(dec).unwrap_or(20);
        let year = u32::from(century) * 100 + u32::from(dec(self.year));
        if second > 59 || minute > 59 || hour > 23 || !(1..=12).contains(&month) {
            return Err(RtcError::OutOfRange);
        }
        if day == 0 || day > days_in_month(year, month) || year < 1970 {
            return Err(RtcError::OutOfRange);
        }
        let days = days_from_civil(year as i64, month.into(), day.into());
        Ok(days as u64 * 86_400
            + u64::from(hour) * 3600
            + u64::from(minute) * 60
            + u64::from(second))
    }
}

fn is_leap(y: u32) -> bool {
    (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400)
}

fn days_in_month(y: u32, m: u8) -> u8 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the "days from civil"
/// algorithm: shift the year to start in March so leap days come last).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`]: (year, month, day).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Prints Unix nanoseconds as `2026-11-25 12:34:56 UTC`.
pub struct UtcTime(pub u64);

impl fmt::Display for UtcTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0 / 1_000_000_000;
        let (y, m, d) = civil_from_days((secs / 86_400) as i64);
        let s = secs % 86_400;
        write!(
            f,
            "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
            s / 3600,
            s / 60 % 60,
            s % 60
        )
    }
}

/// Converts TSC ticks to nanoseconds at `hz` without overflowing for
/// centuries of uptime.
pub fn ticks_to_ns(ticks: u64, hz: u64) -> u64 {
    if hz == 0 {
        return 0;
    }
    ((u128::from(ticks) * 1_000_000_000) / u128::from(hz)) as u64
}

/// Computes a TSC frequency from a calibration: `ticks` counted while a
/// reference clock of `ref_hz` advanced by `ref_counts`.
pub fn calibrate_hz(ticks: u64, ref_counts: u64, ref_hz: u64) -> u64 {
    if ref_counts == 0 {
        return 0;
    }
    ((u128::from(ticks) * u128::from(ref_hz)) / u128::from(ref_counts)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_round_trips_and_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2026, 11, 25), 20_782);
        for z in [-1, 0, 59, 60, 11_016, 20_782, 100_000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        // 1_000_000_000 s is 2001-09-09 01:46:40 UTC.
        assert_eq!(
            UtcTime(1_000_000_000 * 1_000_000_000).to_string(),
            "2001-09-09 01:46:40 UTC"
        );
    }

    #[test]
    fn rtc_bcd_24h_as_qemu_sets_it() {
        // QEMU's default CMOS: BCD, 24-hour (status B = 0x02), century at 0x32.
        let raw = RtcRaw {
            second: 0x40,
            minute: 0x46,
            hour: 0x01,
            day: 0x09,
            month: 0x09,
            year: 0x01,
            century: Some(0x20),
            status_b: 0x02,
        };
        assert_eq!(raw.unix_seconds(), Ok(1_000_000_000));
    }

    #[test]
    fn rtc_binary_12h_pm_and_bad_values() {
        let mut raw = RtcRaw {
            second: 0,
            minute: 30,
            hour: 0x80 | 12,
            day: 29,
            month: 2,
            year: 24,
            century: None,
            status_b: 0x04,
        };
        let noon = days_from_civil(2024, 2, 29) as u64 * 86_400 + 12 * 3600 + 30 * 60;
        assert_eq!(raw.unix_seconds(), Ok(noon));
        raw.hour = 12;
        assert_eq!(
            raw.unix_seconds(),
            Ok(noon - 12 * 3600),
            "12 AM is midnight"
        );
        raw.year = 23;
        assert_eq!(
            raw.unix_seconds(),
            Err(RtcError::OutOfRange),
            "no 29 Feb in 2023"
        );
        raw.month = 0;
        assert_eq!(raw.unix_seconds(), Err(RtcError::OutOfRange));
    }

    #[test]
    fn tsc_scaling() {
        assert_eq!(ticks_to_ns(3_000_000_000, 3_000_000_000), 1_000_000_000);
        assert_eq!(ticks_to_ns(u64::MAX, 1_000_000_000), u64::MAX);
        assert_eq!(ticks_to_ns(5, 0), 0);
        // 10 ms of the 1.193182 MHz PIT while the TSC counted 20 million.
        assert_eq!(calibrate_hz(20_000_000, 11_932, 1_193_182), 1_999_969_829);
        assert_eq!(calibrate_hz(1, 0, 1), 0);
    }
}
