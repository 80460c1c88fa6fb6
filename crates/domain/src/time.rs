//! Timestamps on the wire: RFC 3339 in UTC, written exactly as chrono's serde
//! writes them (`2026-12-02T03:39:45.078405797Z`, with 0, 3, 6 or 9 digits of
//! fraction), but without going through `fmt` one character at a time: a page
//! of 50 messages carries 100 to 200 of them.

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::Serializer;

/// The longest common-case timestamp: `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`.
const MAX_LEN: usize = 30;

/// Writes `time` as chrono's serde does, or `None` for what the fast form
/// does not cover (a year outside 0..=9999, a leap second).
fn write(time: &DateTime<Utc>, buf: &mut [u8; MAX_LEN]) -> Option<usize> {
    let year = u32::try_from(time.year())
        .ok()
        .filter(|year| *year <= 9999)?;
    let nanos = time.nanosecond();
    if nanos >= 1_000_000_000 {
        return None;
    }
    let mut put = |at: usize, value: u32, width: usize| {
        let mut value = value;
        for slot in buf[at..at + width].iter_mut().rev() {
            *slot = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, year, 4);
    put(5, time.month(), 2);
    put(8, time.day(), 2);
    put(11, time.hour(), 2);
    put(14, time.minute(), 2);
    put(17, time.second(), 2);
    let digits = match nanos {
        0 => 0,
        n if n % 1_000_000 == 0 => 3,
        n if n % 1_000 == 0 => 6,
        _ => 9,
    };
    if digits > 0 {
        put(20, nanos / 10u32.pow(9 - digits as u32), digits);
    }
    buf[4] = b'-';
    buf[7] = b'-';
    buf[10] = b'T';
    buf[13] = b':';
    buf[16] = b':';
    let mut end = 19;
    if digits > 0 {
        buf[19] = b'.';
        end = 20 + digits;
    }
    buf[end] = b'Z';
    Some(end + 1)
}

/// Serializes a timestamp (for `#[serde(serialize_with)]`).
pub fn serialize<S: Serializer>(time: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    let mut buf = [0u8; MAX_LEN];
    match write(time, &mut buf) {
        // Only ASCII digits and separators were written.
        Some(len) => serializer.serialize_str(std::str::from_utf8(&buf[..len]).unwrap_or_default()),
        None => serde::Serialize::serialize(time, serializer),
    }
}

/// Serializes an optional timestamp (for `#[serde(serialize_with)]`).
pub fn serialize_option<S: Serializer>(
    time: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match time {
        Some(time) => serialize(time, serializer),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;
    use serde::Serialize;

    use super::*;

    #[derive(Serialize)]
    struct Fast(#[serde(serialize_with = "serialize")] DateTime<Utc>);

    fn same_as_chrono(time: DateTime<Utc>) {
        let ours = serde_json::to_string(&Fast(time)).unwrap();
        let chrono = serde_json::to_string(&time).unwrap();
        assert_eq!(ours, chrono, "{time:?}");
    }

    #[test]
    fn every_precision_is_written_as_chrono_writes_it() {
        let base = Utc.with_ymd_and_hms(2026, 12, 2, 3, 39, 45).unwrap();
        for nanos in [0, 78_000_000, 78_405_000, 78_405_797, 1, 999_999_999] {
            same_as_chrono(base + chrono::Duration::nanoseconds(nanos));
        }
        same_as_chrono(Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap());
        same_as_chrono(Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap());
    }

    #[test]
    fn years_outside_four_digits_fall_back_to_chrono() {
        same_as_chrono(Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap());
        same_as_chrono(Utc.with_ymd_and_hms(-44, 3, 15, 12, 0, 0).unwrap());
    }

    proptest! {
        #[test]
        fn any_instant_is_written_as_chrono_writes_it(
            seconds in -70_000_000_000i64..250_000_000_000i64,
            nanos in 0u32..1_000_000_000u32,
            round in 0usize..4,
        ) {
            let nanos = [nanos, nanos / 1_000 * 1_000, nanos / 1_000_000 * 1_000_000, 0][round];
            same_as_chrono(Utc.timestamp_opt(seconds, nanos).unwrap());
        }
    }
}
