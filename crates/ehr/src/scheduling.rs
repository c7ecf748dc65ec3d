//! A clinic publishes its agendas (issue 17): `POST /Schedule/{id}/$generar-espacios` turns
//! opening hours and a slot length into free `Slot`s of a `Schedule` (a practitioner's
//! consultorio, vacunación, laboratorio), for a range of days.
//!
//! Every slot is an ordinary write through the write path, decided by the write guard as the
//! requester (receptionists, physicians and nurses keep agendas; patients may not), in one
//! transaction: all the slots of a request or none. Re-running a request is harmless: a slot
//! that already exists for the schedule at the same start is skipped, so hours can be extended
//! by asking again. Times are civil times in the node's zone (`America/Mexico_City` unless
//! configured), written with their offset.

use fhir::{Issue, IssueCode, Json};

use auth::scope::Interaction;

use crate::guard::{Authority, TargetFacts, forbidden};
use crate::lookup::{Lookup, StoreLookup, TxLookup, internal_query};
use crate::write::Target;
use crate::{Ehr, Error, Requester};

/// Days one request may cover (a quarter: agendas are published weeks ahead, not years).
pub const GENERATION_DAYS_MAX: i64 = 92;
/// Slots one request may create (bounds the transaction).
pub const GENERATION_SLOTS_MAX: usize = 5_000;
/// Shortest and longest slot.
const SLOT_MINUTES_MIN: u32 = 5;
const SLOT_MINUTES_MAX: u32 = 480;

/// What to generate: days `from..=to` (civil dates), on ISO weekdays `weekdays` (1 = Monday …
/// 7 = Sunday), from `opens_min` to `closes_min` (minutes after midnight, local) in slots of
/// `slot_minutes`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotGeneration {
    pub schedule_id: String,
    pub from: (i64, u32, u32),
    pub to: (i64, u32, u32),
    pub weekdays: Vec<u32>,
    pub opens_min: u32,
    pub closes_min: u32,
    pub slot_minutes: u32,
}

/// What a generation did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenerationOutcome {
    pub created: usize,
    /// Slots that already existed at the same start (kept as they are, booked or not).
    pub skipped: usize,
}

impl SlotGeneration {
    /// Reads the operation's parameters (Spanish names, English aliases): `desde`/`start` and
    /// `hasta`/`end` (dates; `hasta` defaults to `desde`), `dias`/`days` (ISO weekdays, default
    /// `1,2,3,4,5`), `apertura`/`opens` and `cierre`/`closes` (`HH:MM`, default 08:00–14:00),
    /// `duracion`/`minutes` (default 20). Every problem is reported, not only the first.
    pub fn from_params(
        schedule_id: &str,
        params: &[(String, String)],
    ) -> Result<SlotGeneration, Error> {
        let value = |es: &str, en: &str| {
            params
                .iter()
                .find(|(k, _)| k == es || k == en)
                .map(|(_, v)| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let mut issues = Vec::new();
        let mut problem = |field: &str, es: String, en: String| {
            issues.push(Issue::error(IssueCode::Value, es, en).at(field));
        };
        let from = match value("desde", "start").map(|v| parse_date(&v)) {
            Some(Some(date)) => Some(date),
            Some(None) => {
                problem(
                    "desde",
                    "«desde» debe ser una fecha AAAA-MM-DD".into(),
                    "'start' must be a date YYYY-MM-DD".into(),
                );
                None
            }
            None => {
                problem(
                    "desde",
                    "Falta «desde», el primer día de la agenda (AAAA-MM-DD)".into(),
                    "'start', the agenda's first day (YYYY-MM-DD), is missing".into(),
                );
                None
            }
        };
        let to = match value("hasta", "end").map(|v| parse_date(&v)) {
            Some(Some(date)) => Some(date),
            Some(None) => {
                problem(
                    "hasta",
                    "«hasta» debe ser una fecha AAAA-MM-DD".into(),
                    "'end' must be a date YYYY-MM-DD".into(),
                );
                None
            }
            None => from,
        };
        let weekdays = match value("dias", "days") {
            None => vec![1, 2, 3, 4, 5],
            Some(text) => {
                let days: Option<Vec<u32>> = text
                    .split(',')
                    .map(|d| d.trim().parse::<u32>().ok().filter(|d| (1..=7).contains(d)))
                    .collect();
                days.unwrap_or_else(|| {
                    problem(
                        "dias",
                        "«dias» son números de 1 (lunes) a 7 (domingo) separados por comas".into(),
                        "'days' are numbers from 1 (Monday) to 7 (Sunday) separated by commas"
                            .into(),
                    );
                    Vec::new()
                })
            }
        };
        let mut time = |es: &str, en: &str, default: u32| match value(es, en) {
            None => Some(default),
            Some(text) => parse_time(&text).or_else(|| {
                problem(
                    es,
                    format!("«{es}» debe ser una hora HH:MM"),
                    format!("'{en}' must be a time HH:MM"),
                );
                None
            }),
        };
        let opens = time("apertura", "opens", 8 * 60);
        let closes = time("cierre", "closes", 14 * 60);
        let slot_minutes = match value("duracion", "minutes").map(|v| v.parse::<u32>()) {
            None => Some(20),
            Some(Ok(m)) if (SLOT_MINUTES_MIN..=SLOT_MINUTES_MAX).contains(&m) => Some(m),
            Some(_) => {
                problem(
                    "duracion",
                    format!("«duracion» son minutos entre {SLOT_MINUTES_MIN} y {SLOT_MINUTES_MAX}"),
                    format!("'minutes' must be between {SLOT_MINUTES_MIN} and {SLOT_MINUTES_MAX}"),
                );
                None
            }
        };
        if let (Some(opens), Some(closes)) = (opens, closes)
            && closes <= opens
        {
            problem(
                "cierre",
                "El cierre debe ser posterior a la apertura".into(),
                "Closing must be after opening".into(),
            );
        }
        if let (Some(from), Some(to)) = (from, to) {
            let days = day_number(to) - day_number(from);
            if days < 0 {
                problem(
                    "hasta",
                    "«hasta» no puede ser anterior a «desde»".into(),
                    "'end' cannot be before 'start'".into(),
                );
            } else if days >= GENERATION_DAYS_MAX {
                problem(
                    "hasta",
                    format!("Se generan a lo más {GENERATION_DAYS_MAX} días por solicitud"),
                    format!("At most {GENERATION_DAYS_MAX} days are generated per request"),
                );
            }
        }
        match (from, to, opens, closes, slot_minutes) {
            (Some(from), Some(to), Some(opens_min), Some(closes_min), Some(slot_minutes))
                if issues.is_empty() =>
            {
                Ok(SlotGeneration {
                    schedule_id: schedule_id.to_string(),
                    from,
                    to,
                    weekdays,
                    opens_min,
                    closes_min,
                    slot_minutes,
                })
            }
            _ => Err(Error::BadRequest(issues)),
        }
    }

    /// The (start, end) local civil times of every slot, in order: (date, minutes).
    fn local_slots(&self) -> Vec<((i64, u32, u32), u32, u32)> {
        let mut slots = Vec::new();
        for day in day_number(self.from)..=day_number(self.to) {
            let iso_weekday = calendar::weekday(day) + 1;
            if !self.weekdays.contains(&iso_weekday) {
                continue;
            }
            let date = calendar::civil_from_days(day);
            let mut start = self.opens_min;
            while start + self.slot_minutes <= self.closes_min {
                slots.push((date, start, start + self.slot_minutes));
                start += self.slot_minutes;
            }
        }
        slots
    }
}

fn day_number((year, month, day): (i64, u32, u32)) -> i64 {
    calendar::days_from_civil(year, month, day)
}

fn parse_date(text: &str) -> Option<(i64, u32, u32)> {
    let mut parts = text.split('-');
    let year = parts.next()?.parse::<i64>().ok()?;
    let month = parts.next()?.parse::<u32>().ok()?;
    let day = parts.next()?.parse::<u32>().ok()?;
    (parts.next().is_none() && calendar::is_valid_date(year, month, day) && year >= 1970)
        .then_some((year, month, day))
}

fn parse_time(text: &str) -> Option<u32> {
    let (hour, minute) = text.split_once(':')?;
    let hour = hour.parse::<u32>().ok()?;
    let minute = minute.parse::<u32>().ok()?;
    (hour <= 24 && minute < 60 && hour * 60 + minute <= 24 * 60).then_some(hour * 60 + minute)
}

/// `YYYY-MM-DDThh:mm:00±hh:mm` for a local civil time in `zone`.
pub(crate) fn local_date_time(zone: &str, (y, m, d): (i64, u32, u32), minutes: u32) -> String {
    let (y, m, d, minutes) = if minutes >= 24 * 60 {
        let (y, m, d) = calendar::civil_from_days(calendar::days_from_civil(y, m, d) + 1);
        (y, m, d, minutes - 24 * 60)
    } else {
        (y, m, d, minutes)
    };
    let (hour, minute) = (minutes / 60, minutes % 60);
    let offset =
        calendar::zone::utc_offset_at_local(zone, (y, m, d), (hour, minute, 0)).unwrap_or_default();
    format!(
        "{y:04}-{m:02}-{d:02}T{hour:02}:{minute:02}:00{}",
        calendar::zone::format_offset(offset)
    )
}

impl Ehr {
    /// # `POST /Schedule/{id}/$generar-espacios`
    pub fn generate_slots(
        &self,
        who: &Requester,
        request: &SlotGeneration,
    ) -> Result<GenerationOutcome, Error> {
        // The schedule must exist and be visible to the requester.
        let schedule = self.read(who, "Schedule", &request.schedule_id)?;
        // Asked once before anything is written, so the answer does not depend on whether
        // the slots exist already (each slot written is decided again by the write path).
        let mut lookup = StoreLookup {
            store: self.store(),
        };
        if let auth::policy::Decision::Deny(reason) = self.decide_on(
            who,
            Interaction::Create,
            "Slot",
            &TargetFacts::default(),
            None,
            &mut lookup,
        )? {
            self.audit_denied(
                who,
                auth::audit::AuditAction::Create,
                "Slot",
                None,
                None,
                reason,
            );
            return Err(forbidden(reason));
        }
        let schedule = fhir::json::parse_str(&schedule.body)
            .map_err(|e| Error::Internal(format!("stored Schedule does not parse: {e}")))?;
        let slots: Vec<(String, String)> = request
            .local_slots()
            .into_iter()
            .map(|(date, start, end)| {
                (
                    local_date_time(&self.local_zone, date, start),
                    local_date_time(&self.local_zone, date, end),
                )
            })
            .collect();
        if slots.len() > GENERATION_SLOTS_MAX {
            return Err(Error::BadRequest(vec![Issue::error(
                IssueCode::TooCostly,
                format!(
                    "La solicitud generaría {} espacios; el máximo por solicitud es {GENERATION_SLOTS_MAX}",
                    slots.len()
                ),
                format!(
                    "The request would generate {} slots; at most {GENERATION_SLOTS_MAX} per request",
                    slots.len()
                ),
            )]));
        }
        let copied: Vec<(String, Json)> = ["serviceCategory", "serviceType", "specialty"]
            .into_iter()
            .filter_map(|key| schedule.get(key).map(|v| (key.to_string(), v.clone())))
            .collect();
        let schedule_ref = format!("Schedule/{}", request.schedule_id);
        self.write(who, move |writer| {
            // Two generations of one schedule at once must not both create a slot.
            writer
                .tx()
                .lock(&format!("generate-slots:{schedule_ref}"))
                .map_err(Error::from)?;
            let existing = existing_starts(writer, &schedule_ref, &slots)?;
            let mut outcome = GenerationOutcome {
                created: 0,
                skipped: 0,
            };
            for (start, end) in &slots {
                let start_ms = crate::parse_instant_ms(start).unwrap_or_default();
                if existing.contains(&start_ms) {
                    outcome.skipped += 1;
                    continue;
                }
                let mut slot = Json::object([
                    ("resourceType", Json::str("Slot")),
                    (
                        "schedule",
                        Json::object([("reference", Json::str(schedule_ref.clone()))]),
                    ),
                    ("status", Json::str("free")),
                    ("start", Json::str(start.clone())),
                    ("end", Json::str(end.clone())),
                ]);
                if let Some(object) = slot.as_object_mut() {
                    for (key, value) in &copied {
                        object.insert_at(2, key.clone(), value.clone());
                    }
                }
                writer.put(
                    "Slot",
                    Target::Create(None),
                    slot,
                    None,
                    Authority::Requester,
                )?;
                outcome.created += 1;
            }
            Ok(outcome)
        })
    }
}

/// Starts (epoch ms) of the schedule's slots already in the range of `slots`.
fn existing_starts(
    writer: &mut crate::write::Writer<'_>,
    schedule_ref: &str,
    slots: &[(String, String)],
) -> Result<std::collections::BTreeSet<i64>, Error> {
    let (Some((first, _)), Some((last, _))) = (slots.first(), slots.last()) else {
        return Ok(Default::default());
    };
    let now_ms = writer.now_ms();
    let query = internal_query(
        "Slot",
        &[
            ("schedule".to_string(), schedule_ref.to_string()),
            ("start".to_string(), format!("ge{first}")),
            ("start".to_string(), format!("le{last}")),
        ],
        now_ms,
    )?;
    let mut starts = std::collections::BTreeSet::new();
    let mut lookup = TxLookup { tx: writer.tx() };
    for stored in lookup.search(&query, GENERATION_SLOTS_MAX * 2)? {
        if let Ok(slot) = fhir::json::parse_str(&stored.body)
            && let Some(start) = slot
                .get("start")
                .and_then(Json::as_str)
                .and_then(crate::parse_instant_ms)
        {
            starts.insert(start);
        }
    }
    Ok(starts)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_week_of_mornings_in_twenty_minute_slots() {
        // 2026-12-07 is a Monday; Saturday and Sunday are skipped by default.
        let request = SlotGeneration::from_params(
            "s1",
            &params(&[("desde", "2026-12-07"), ("hasta", "2026-12-13")]),
        )
        .unwrap();
        let slots = request.local_slots();
        assert_eq!(slots.len(), 5 * 18);
        assert_eq!(slots[0], ((2026, 12, 7), 8 * 60, 8 * 60 + 20));
        assert_eq!(slots.last().unwrap().0, (2026, 12, 11));
        assert_eq!(
            local_date_time("America/Mexico_City", (2026, 12, 7), 8 * 60),
            "2026-12-07T08:00:00-06:00"
        );
    }

    #[test]
    fn every_problem_is_reported_in_spanish_and_english() {
        let Err(Error::BadRequest(issues)) = SlotGeneration::from_params(
            "s1",
            &params(&[
                ("desde", "2026-02-30"),
                ("apertura", "15:00"),
                ("cierre", "9:00"),
                ("duracion", "1"),
                ("dias", "0,8"),
            ]),
        ) else {
            panic!("expected a bad request");
        };
        let text: Vec<&str> = issues.iter().map(|i| i.message_es.as_str()).collect();
        assert_eq!(issues.len(), 4, "{text:?}");
        assert!(text.iter().any(|t| t.contains("desde")));
        assert!(text.iter().any(|t| t.contains("cierre")));
        assert!(issues.iter().all(|i| !i.message_en.is_empty()));
    }
}
