//! `id` and `meta` on stored versions, and FHIR instants.

use fhir::{Json, Object};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Formats epoch milliseconds as a FHIR instant with millisecond precision, in UTC.
pub fn format_instant(ms: i64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    match OffsetDateTime::from_unix_timestamp_nanos(nanos) {
        Ok(at) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second(),
            at.millisecond()
        ),
        Err(_) => "1970-01-01T00:00:00.000Z".to_string(),
    }
}

/// Formats epoch milliseconds as an HTTP date (`Last-Modified`).
pub fn format_http_date(ms: i64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    let Ok(at) = OffsetDateTime::from_unix_timestamp_nanos(nanos) else {
        return "Thu, 01 Jan 1970 00:00:00 GMT".to_string();
    };
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[at.weekday().number_days_from_monday() as usize],
        at.day(),
        MONTHS[usize::from(u8::from(at.month())) - 1],
        at.year(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// Parses a FHIR instant or dateTime (with offset) or a plain date into epoch milliseconds.
pub fn parse_instant_ms(text: &str) -> Option<i64> {
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some((at.unix_timestamp_nanos() / 1_000_000) as i64);
    }
    let date = time::Date::parse(
        text,
        &time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()?;
    Some(date.midnight().assume_utc().unix_timestamp() * 1000)
}

/// Sets `id` and `meta.versionId`/`meta.lastUpdated`, keeping the rest of `meta` (profiles,
/// tags, security labels, source) and putting `resourceType`, `id`, `meta` first.
pub(crate) fn stamp(resource: &mut Json, id: &str, version_id: u64, last_updated: &str) {
    let Some(object) = resource.as_object_mut() else {
        return;
    };
    let mut meta = match object.remove("meta") {
        Some(Json::Object(meta)) => meta,
        _ => Object::new(),
    };
    meta.remove("versionId");
    meta.remove("lastUpdated");
    meta.insert_at(0, "versionId", Json::str(version_id.to_string()));
    meta.insert_at(1, "lastUpdated", Json::str(last_updated));
    let resource_type = object.remove("resourceType");
    if let Some(resource_type) = resource_type {
        object.insert_at(0, "resourceType", resource_type);
    }
    object.insert_at(1, "id", Json::str(id));
    object.insert_at(2, "meta", Json::Object(meta));
}

/// A new server-assigned id: a UUIDv7, unique without coordination between nodes and
/// roughly time-ordered (index-friendly). The one place ids are drawn (ids read the clock;
/// a tidy test keeps other code from drawing its own).
pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A bulk export job's id: 122 random bits (UUIDv4), so that a status or file URL cannot be
/// guessed from another (each is also bound to its owner).
pub fn export_job_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// FHIR `id` grammar: `[A-Za-z0-9\-\.]{1,64}`.
pub(crate) fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}
