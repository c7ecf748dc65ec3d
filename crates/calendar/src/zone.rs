//! Local wall-clock times in a named time zone (the tz database, bundled with `jiff`).
//!
//! Why here: a `dateTime` sent without an offset is read in the node's zone, and reports count
//! days in `America/Mexico_City`; both need the zone's offset history (Mexico kept daylight
//! saving time until October 2022, and the border states still do), which only the tz database
//! has. The database is compiled in, so a clinic PC without `/usr/share/zoneinfo` reads local
//! times exactly as the hub does.

/// The zone a node assumes when none is configured.
pub const DEFAULT_ZONE: &str = "America/Mexico_City";

/// Why a local time could not be placed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZoneError {
    /// The zone name is not in the tz database.
    UnknownZone(String),
    /// The fields do not name a wall-clock time (month 13, 25 o'clock…).
    InvalidTime,
}

impl std::fmt::Display for ZoneError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ZoneError::UnknownZone(name) => write!(f, "unknown time zone {name}"),
            ZoneError::InvalidTime => write!(f, "not a wall-clock time"),
        }
    }
}

impl std::error::Error for ZoneError {}

/// Whether `zone` names a zone of the tz database.
pub fn is_known_zone(zone: &str) -> bool {
    jiff::tz::db().get(zone).is_ok()
}

/// The UTC offset, in seconds east of UTC, that `zone` had at the local wall-clock time
/// `year-month-day hour:minute:second`.
///
/// A time that happened twice (the hour repeated when clocks went back) and a time that never
/// happened (skipped when clocks went forward) both take the offset in force before the
/// change: the moment meant is then the one a clock that had not been changed yet would show.
pub fn utc_offset_at_local(
    zone: &str,
    (year, month, day): (i64, u32, u32),
    (hour, minute, second): (u32, u32, u32),
) -> Result<i32, ZoneError> {
    let tz = jiff::tz::db()
        .get(zone)
        .map_err(|_| ZoneError::UnknownZone(zone.to_string()))?;
    let narrow = |value: i64| i8::try_from(value).map_err(|_| ZoneError::InvalidTime);
    let year = i16::try_from(year).map_err(|_| ZoneError::InvalidTime)?;
    let date = jiff::civil::Date::new(year, narrow(i64::from(month))?, narrow(i64::from(day))?)
        .map_err(|_| ZoneError::InvalidTime)?;
    // A leap second (`:60`) is read as the last second of its minute.
    let time = jiff::civil::Time::new(
        narrow(i64::from(hour))?,
        narrow(i64::from(minute))?,
        narrow(i64::from(second.min(59)))?,
        0,
    )
    .map_err(|_| ZoneError::InvalidTime)?;
    let offset = match tz.to_ambiguous_timestamp(date.to_datetime(time)).offset() {
        jiff::tz::AmbiguousOffset::Unambiguous { offset } => offset,
        jiff::tz::AmbiguousOffset::Gap { before, .. }
        | jiff::tz::AmbiguousOffset::Fold { before, .. } => before,
    };
    Ok(offset.seconds())
}

/// The local civil date in `zone` of the instant `epoch_ms` (UTC milliseconds).
pub fn local_date(zone: &str, epoch_ms: i64) -> Result<(i64, u32, u32), ZoneError> {
    let tz = jiff::tz::db()
        .get(zone)
        .map_err(|_| ZoneError::UnknownZone(zone.to_string()))?;
    let instant =
        jiff::Timestamp::from_millisecond(epoch_ms).map_err(|_| ZoneError::InvalidTime)?;
    let date = instant.to_zoned_datetime(tz).date();
    let month = u32::try_from(date.month()).map_err(|_| ZoneError::InvalidTime)?;
    let day = u32::try_from(date.day()).map_err(|_| ZoneError::InvalidTime)?;
    Ok((i64::from(date.year()), month, day))
}

/// `±hh:mm` for an offset in seconds (minutes truncated toward zero, as every real zone is
/// whole minutes today).
pub fn format_offset(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}

/// The UTC offset, in seconds east of UTC, that `zone` had at the instant `epoch_ms`.
pub fn utc_offset_at(zone: &str, epoch_ms: i64) -> Result<i32, ZoneError> {
    let tz = jiff::tz::db()
        .get(zone)
        .map_err(|_| ZoneError::UnknownZone(zone.to_string()))?;
    let instant =
        jiff::Timestamp::from_millisecond(epoch_ms).map_err(|_| ZoneError::InvalidTime)?;
    Ok(tz.to_offset(instant).seconds())
}
