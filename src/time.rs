//! The one way Folio writes a moment in the database and on the wire: RFC 3339 in UTC with
//! milliseconds and a `Z` (`2026-12-06T08:00:00.000Z`). Fixed width, so comparing two stored
//! strings compares the moments (lists sort and filter on them as strings).
//!
//! A leaf: it imports nothing from the rest of the crate.

use chrono::{DateTime, SecondsFormat, Utc};

/// `t` as stored.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Now, as stored.
pub fn now() -> String {
    stamp(Utc::now())
}

/// A stored (or any RFC 3339) moment, if it reads as one.
pub fn parse(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// An RFC 3339 date and time in any offset, as stored (in UTC, to the millisecond).
pub fn normalise(text: &str) -> Option<String> {
    parse(text).map(stamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_moment_is_written_in_utc_to_the_millisecond() {
        assert_eq!(
            normalise("2026-12-06T09:30:00.123456+01:00").as_deref(),
            Some("2026-12-06T08:30:00.123Z")
        );
        assert_eq!(
            normalise("2026-12-06T08:30:00Z").as_deref(),
            Some("2026-12-06T08:30:00.000Z")
        );
        assert_eq!(normalise("6 December 2026"), None);
        // Fixed width: string order is time order.
        let (a, b) = (now(), now());
        assert_eq!(a.len(), 24);
        assert!(a <= b);
    }
}
