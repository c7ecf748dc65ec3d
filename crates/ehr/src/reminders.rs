//! Appointment reminders (issue 17) as events an external SMS or WhatsApp service consumes.
//!
//! Key decision: a reminder is a FHIR `Communication` (status `in-progress`, category
//! `recordatorio-cita`, `about` the Appointment, `subject` the patient, one payload per language
//! from the template in `data/recordatorio-cita.tsv`, Spanish first). The service subscribes to
//! `Communication?category=…|recordatorio-cita` (rest-hook, a system account) and receives each
//! one through the ordinary notification path, read guard included; it marks the Communication
//! `completed` when sent. A reminder is written once per appointment and start time: its
//! identifier is `{appointment id}@{start}`, created under a lock on it, so a moved
//! appointment gets a new reminder and repeated scans do not repeat it.

use std::collections::HashSet;
use std::sync::Mutex;

use fhir::Json;
use search::Handling;

use crate::guard::Authority;
use crate::write::Target;
use crate::{Ehr, Error, Requester};

/// The category code (and identifier system) of reminders.
pub const REMINDER_SYSTEM: &str = "https://expediente.salud.gob.mx/fhir/CodeSystem/comunicacion";
pub const REMINDER_CODE: &str = "recordatorio-cita";
const IDENTIFIER_SYSTEM: &str = "https://expediente.salud.gob.mx/fhir/sid/recordatorio-cita";
/// How long before an appointment its reminder is emitted, by default.
pub const LEAD_HOURS_DEFAULT: i64 = 24;
/// Appointments looked at per scan, at most.
const SCAN_MAX: usize = 1_000;

const TEMPLATES: &str = include_str!("../data/recordatorio-cita.tsv");

/// The template of `language` (`es-MX`, `en`), from the data file.
fn template(language: &str) -> Option<&'static str> {
    TEMPLATES
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('\t'))
        .find(|(code, _)| *code == language)
        .map(|(_, text)| text)
}

/// Fills a template. `start` is the appointment's `start` as booked
/// (`2026-12-08T08:00:00-06:00`): date and time are shown as written, in the clinic's time.
pub(crate) fn fill(
    language: &str,
    name: &str,
    start: &str,
    service: Option<&str>,
) -> Option<String> {
    let text = template(language)?;
    let date = start.get(0..10).unwrap_or("");
    let (year, month, day) = (
        date.get(0..4).unwrap_or(""),
        date.get(5..7).unwrap_or(""),
        date.get(8..10).unwrap_or(""),
    );
    let hour = start.get(11..16).unwrap_or("");
    let service = service.unwrap_or(if language == "en" {
        "visit"
    } else {
        "consulta"
    });
    Some(
        text.replace("{nombre}", name)
            .replace("{fecha}", &format!("{day}/{month}/{year}"))
            .replace("{hora}", hour)
            .replace("{servicio}", service),
    )
}

/// Appointments (id and start) already given a reminder by this process: spares the store a
/// look-up on every scan. The store's identifier is the truth.
#[derive(Default)]
pub(crate) struct Reminded(Mutex<HashSet<(String, String)>>);

impl Ehr {
    /// Emits the reminders due: one `Communication` per booked appointment starting within
    /// `lead_hours` from now that has none yet. Returns how many were written. Runs as the
    /// node's own `recordatorios` principal, audited like anyone.
    /// Nothing is written while no subscription watches `Communication`: a reminder nobody
    /// consumes would only be data in the record.
    pub fn reminders_step(&self, lead_hours: i64) -> Result<usize, Error> {
        if !self.subscriptions_watch("Communication")? {
            return Ok(0);
        }
        let now = self.now_ms();
        let params = vec![
            ("status".to_string(), "booked".to_string()),
            (
                "date".to_string(),
                format!("ge{}", crate::meta::format_instant(now)),
            ),
            (
                "date".to_string(),
                format!(
                    "le{}",
                    crate::meta::format_instant(now + lead_hours * 3_600_000)
                ),
            ),
            ("_count".to_string(), SCAN_MAX.to_string()),
        ];
        let (query, _) = search::parse("Appointment", &params, Handling::Strict, now)
            .map_err(Error::BadRequest)?;
        let page = self.store().search(&query)?;
        let system = Requester::local_system("recordatorios");
        let mut written = 0;
        for appointment in page.matches {
            let Ok(body) = fhir::json::parse_str(&appointment.body) else {
                continue;
            };
            let Some(start) = body.get("start").and_then(Json::as_str).map(str::to_string) else {
                continue;
            };
            let key = (appointment.id.clone(), start.clone());
            if self
                .reminded
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .contains(&key)
            {
                continue;
            }
            if self.remind(&system, &appointment.id, &body, &start)? {
                written += 1;
            }
            self.reminded
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(key);
        }
        Ok(written)
    }

    fn remind(
        &self,
        system: &Requester,
        id: &str,
        appointment: &Json,
        start: &str,
    ) -> Result<bool, Error> {
        let Some(patient) = appointment
            .get("participant")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| p.get("actor")?.get("reference")?.as_str())
            .find_map(|r| r.strip_prefix("Patient/"))
            .map(str::to_string)
        else {
            return Ok(false);
        };
        let name = self
            .store()
            .read("Patient", &patient)?
            .filter(|p| !p.deleted)
            .and_then(|p| fhir::json::parse_str(&p.body).ok())
            .and_then(|p| {
                p.get("name")?
                    .as_array()?
                    .first()?
                    .get("given")?
                    .as_array()?
                    .first()?
                    .as_str()
                    .map(str::to_string)
            })
            .unwrap_or_default();
        let service = appointment
            .get("serviceType")
            .and_then(Json::as_array)
            .and_then(|s| s.first())
            .and_then(|s| s.get("text"))
            .and_then(Json::as_str);
        let payload: Vec<Json> = ["es-MX", "en"]
            .iter()
            .filter_map(|language| {
                let text = fill(language, &name, start, service)?;
                Some(Json::object([
                    (
                        "extension",
                        Json::Array(vec![Json::object([
                            (
                                "url",
                                Json::str("http://hl7.org/fhir/StructureDefinition/language"),
                            ),
                            ("valueCode", Json::str(*language)),
                        ])]),
                    ),
                    ("contentString", Json::str(text)),
                ]))
            })
            .collect();
        let identifier = format!("{id}@{start}");
        let communication = Json::object([
            ("resourceType", Json::str("Communication")),
            (
                "identifier",
                Json::Array(vec![Json::object([
                    ("system", Json::str(IDENTIFIER_SYSTEM)),
                    ("value", Json::str(identifier.clone())),
                ])]),
            ),
            ("status", Json::str("in-progress")),
            (
                "category",
                Json::Array(vec![Json::object([(
                    "coding",
                    Json::Array(vec![Json::object([
                        ("system", Json::str(REMINDER_SYSTEM)),
                        ("code", Json::str(REMINDER_CODE)),
                    ])]),
                )])]),
            ),
            (
                "subject",
                Json::object([("reference", Json::str(format!("Patient/{patient}")))]),
            ),
            (
                "about",
                Json::Array(vec![Json::object([(
                    "reference",
                    Json::str(format!("Appointment/{id}")),
                )])]),
            ),
            (
                "sent",
                Json::str(crate::meta::format_instant(self.now_ms())),
            ),
            ("payload", Json::Array(payload)),
        ]);
        let params = vec![(
            "identifier".to_string(),
            format!("{IDENTIFIER_SYSTEM}|{identifier}"),
        )];
        let (condition, _) =
            search::parse("Communication", &params, Handling::Strict, self.now_ms())
                .map_err(Error::BadRequest)?;
        let lock = format!("reminder:{identifier}");
        self.write(system, move |writer| {
            writer.tx().lock(&lock)?;
            if !writer.visible_matches(&condition, 1)?.is_empty() {
                return Ok(false);
            }
            writer.put(
                "Communication",
                Target::Create(None),
                communication.clone(),
                None,
                Authority::Requester,
            )?;
            Ok(true)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_is_filled_in_spanish_and_english() {
        let es = fill("es-MX", "Ana", "2026-12-08T08:30:00-06:00", None).unwrap();
        assert_eq!(
            es,
            "Hola Ana: le recordamos su cita de consulta el 08/12/2026 a las 08:30. Si no puede asistir, avise a su centro de salud."
        );
        assert!(es.chars().count() <= 160);
        let en = fill("en", "Ana", "2026-12-08T08:30:00-06:00", Some("vacunación")).unwrap();
        assert!(en.starts_with(
            "Hello Ana: a reminder of your vacunación appointment on 08/12/2026 at 08:30."
        ));
        assert!(fill("fr", "Ana", "2026-12-08T08:30:00-06:00", None).is_none());
    }
}
