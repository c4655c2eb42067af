//! A strict reader of RFC 3339 `date-time` text, so SCIM dateTime values (RFC 7643 §2.3.5)
//! written with different offsets or fractions compare as the instants they denote.

/// Seconds since 1970-01-01T00:00:00Z and the nanoseconds within that second.
pub(super) type Instant = (i64, u32);

/// Reads `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`; `None` for anything else.
pub(super) fn parse(text: &str) -> Option<Instant> {
    let bytes = text.as_bytes();
    let year = digits(bytes, 0, 4)?;
    let month = digits_after(bytes, 4, b"-", 2)?;
    let day = digits_after(bytes, 7, b"-", 2)?;
    let hour = digits_after(bytes, 10, b"Tt ", 2)?;
    let minute = digits_after(bytes, 13, b":", 2)?;
    let second = digits_after(bytes, 16, b":", 2)?;
    let mut index = 19;
    let mut nanos = 0u32;
    if bytes.get(index) == Some(&b'.') {
        index += 1;
        let first_digit = index;
        while let Some(digit) = bytes.get(index).filter(|byte| byte.is_ascii_digit()) {
            if index - first_digit < 9 {
                nanos = nanos * 10 + u32::from(digit - b'0');
            }
            index += 1;
        }
        let fraction_len = index - first_digit;
        if fraction_len == 0 {
            return None;
        }
        for _ in fraction_len..9 {
            nanos *= 10;
        }
    }
    let offset_seconds = match *bytes.get(index)? {
        b'Z' | b'z' => {
            index += 1;
            0
        }
        sign @ (b'+' | b'-') => {
            let offset_hours = digits(bytes, index + 1, 2)?;
            let offset_minutes = digits_after(bytes, index + 3, b":", 2)?;
            if offset_hours > 23 || offset_minutes > 59 {
                return None;
            }
            index += 6;
            let magnitude = offset_hours * 3600 + offset_minutes * 60;
            if sign == b'-' {
                -magnitude
            } else {
                magnitude
            }
        }
        _ => return None,
    };
    let valid = index == bytes.len()
        && (1..=12).contains(&month)
        && day >= 1
        && day <= days_in_month(year, month)
        && hour <= 23
        && minute <= 59
        && second <= 60;
    if !valid {
        return None;
    }
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds;
    Some((seconds, nanos))
}

fn digits(bytes: &[u8], start: usize, count: usize) -> Option<i64> {
    bytes
        .get(start..start + count)?
        .iter()
        .try_fold(0, |value, byte| byte.is_ascii_digit().then(|| value * 10 + i64::from(byte - b'0')))
}

/// `count` digits after one of the `separators` at `separator_at`.
fn digits_after(bytes: &[u8], separator_at: usize, separators: &[u8], count: usize) -> Option<i64> {
    if !separators.contains(bytes.get(separator_at)?) {
        return None;
    }
    digits(bytes, separator_at + 1, count)
}

fn is_leap_year(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given proleptic Gregorian date, counting eras of 400 years
/// from a March-based year so that the leap day falls at the end.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let march_year = if month <= 2 { year - 1 } else { year };
    let era = march_year.div_euclid(400);
    let year_of_era = march_year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rfc3339_date_times() {
        let cases: &[(&str, Option<Instant>)] = &[
            ("1970-01-01T00:00:00Z", Some((0, 0))),
            ("2011-05-13T04:42:34Z", Some((1_305_261_754, 0))),
            ("2011-05-13T06:42:34+02:00", Some((1_305_261_754, 0))),
            ("2011-05-13T00:12:34-04:30", Some((1_305_261_754, 0))),
            ("2011-05-13t04:42:34z", Some((1_305_261_754, 0))),
            ("2011-05-13 04:42:34Z", Some((1_305_261_754, 0))),
            ("2011-05-13T04:42:34.5Z", Some((1_305_261_754, 500_000_000))),
            ("2011-05-13T04:42:34.1234567891Z", Some((1_305_261_754, 123_456_789))),
            ("2000-02-29T00:00:00Z", Some((951_782_400, 0))),
            ("1969-12-31T23:59:59Z", Some((-1, 0))),
            ("2001-02-29T00:00:00Z", None),
            ("2011-13-13T04:42:34Z", None),
            ("2011-05-13T24:00:00Z", None),
            ("2011-05-13T04:42:34", None),
            ("2011-05-13T04:42:34.Z", None),
            ("2011-05-13T04:42:34+0200", None),
            ("2011-05-13T04:42:34Zjunk", None),
            ("2011-05-13", None),
            ("bjensen", None),
            ("", None),
            ("2011-05-13T04:42:3é", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text), *expected, "{text}");
        }
    }
}
