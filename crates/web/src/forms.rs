//! What the smaller forms write (registration, addendum, referral), and their checks: FHIR
//! resources built from what was typed. The consultation has its own module (`consult`).
//!
//! Why pure builders: these shapes are the contract with every other node and with the hub;
//! they are tested here without a server. Time and the author come in as arguments.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::session::SessionInfo;

/// Escapes text for XHTML narrative and for HTML fragments built outside templates.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn narrative(text: &str) -> Value {
    let paragraphs: String = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| format!("<p>{}</p>", escape_html(l.trim())))
        .collect();
    let body = if paragraphs.is_empty() {
        "<p>—</p>".to_string()
    } else {
        paragraphs
    };
    json!({
        "status": "generated",
        "div": format!("<div xmlns=\"http://www.w3.org/1999/xhtml\">{body}</div>")
    })
}

/// The signed-in user as the author of what they write.
pub(crate) fn author(session: &SessionInfo) -> Value {
    match &session.practitioner {
        Some(reference) => json!({"reference": reference, "display": session.display_name}),
        None => json!({"display": session.display_name}),
    }
}

fn cie10_concept(code: &str, display: &str) -> Value {
    json!({
        "coding": [{"system": mexico::systems::CIE10, "code": code, "display": display}],
        "text": display
    })
}

fn loinc(code: &str, display: &str, text: &str) -> Value {
    json!({"coding": [{"system": mexico::systems::LOINC, "code": code, "display": display}], "text": text})
}

/// Longest given names accepted (two or three names fit easily).
pub const GIVEN_CHARS_MAX: usize = 60;

/// Longest surname accepted.
pub const SURNAME_CHARS_MAX: usize = 40;

/// Longest phone number as typed (spaces and a `+52` prefix included).
pub const PHONE_CHARS_MAX: usize = 20;

/// Oldest birth year accepted (no living person was born earlier).
pub const BIRTH_YEAR_MIN: i64 = 1900;

/// A birth date as typed (`YYYY-MM-DD`, what date inputs send), checked against the calendar
/// and today: `Ok(None)` when empty, else the day number, or a plain message (es, en).
pub fn check_birth_date(text: &str, today: i64) -> Result<Option<i64>, (String, String)> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let parts: Vec<&str> = text.split('-').collect();
    let parsed = match parts.as_slice() {
        [y, m, d] if y.len() == 4 && m.len() <= 2 && d.len() <= 2 => {
            match (y.parse::<i64>(), m.parse::<u32>(), d.parse::<u32>()) {
                (Ok(y), Ok(m), Ok(d)) => Some((y, m, d)),
                _ => None,
            }
        }
        _ => None,
    };
    let Some((year, month, day)) = parsed else {
        return Err((
            "Escriba la fecha como día, mes y año.".into(),
            "Type the date as day, month and year.".into(),
        ));
    };
    let days = crate::dates::days_from_civil(year, month, day);
    if !(1..=12).contains(&month) || crate::dates::civil_from_days(days) != (year, month, day) {
        return Err((
            format!("La fecha {day:02}/{month:02}/{year} no existe; revise el día y el mes."),
            format!("The date {day:02}/{month:02}/{year} does not exist; check the day and month."),
        ));
    }
    if days > today {
        return Err((
            "La fecha de nacimiento no puede ser futura.".into(),
            "The birth date cannot be in the future.".into(),
        ));
    }
    if year < BIRTH_YEAR_MIN {
        return Err((
            format!("Revise el año de nacimiento ({year})."),
            format!("Check the birth year ({year})."),
        ));
    }
    Ok(Some(days))
}

fn is_name(text: &str) -> bool {
    text.chars()
        .all(|c| c.is_alphabetic() || matches!(c, ' ' | '\'' | '-' | '.'))
}

/// The registration form.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct RegisterForm {
    pub given: String,
    pub first_surname: String,
    pub second_surname: String,
    pub birth_date: String,
    /// `H` or `M` (as in the CURP).
    pub sex: String,
    pub birth_state: String,
    pub curp: String,
    pub phone: String,
    /// `review` or `save`.
    pub action: String,
    /// Checked when the clerk confirmed the duplicates are other people.
    pub not_duplicate: Option<String>,
}

impl RegisterForm {
    pub fn gender(&self) -> &'static str {
        match self.sex.as_str() {
            "H" => "male",
            "M" => "female",
            "X" => "other",
            _ => "unknown",
        }
    }

    pub fn family(&self) -> String {
        [self.first_surname.trim(), self.second_surname.trim()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The CURP prefix the typed data imply: 16 characters, or the first 11 (names, birth date,
    /// sex) while the state of birth is not chosen yet.
    pub fn implied_curp_prefix(&self) -> Option<String> {
        let mut parts = self.birth_date.split('-');
        let year = parts.next()?.parse().ok()?;
        let month = parts.next()?.parse().ok()?;
        let day = parts.next()?.parse().ok()?;
        let sex = mexico::curp::CurpSex::from_char(self.sex.chars().next()?)?;
        let second = self.second_surname.trim();
        let person = mexico::curp::CurpPerson {
            given_names: self.given.trim(),
            first_surname: self.first_surname.trim(),
            second_surname: (!second.is_empty()).then_some(second),
            birth_date: (year, month, day),
            sex,
            birth_state: if self.birth_state.trim().is_empty() {
                mexico::states::BORN_ABROAD
            } else {
                self.birth_state.trim()
            },
        };
        let prefix = mexico::curp::derive_prefix(&person).ok()?;
        if self.birth_state.trim().is_empty() {
            Some(prefix.chars().take(11).collect())
        } else {
            Some(prefix)
        }
    }

    /// What keeps the form from being saved, by field (`name`, es, en): required fields,
    /// lengths, characters, the birth date against the calendar and today, the phone.
    pub fn check(&self, today: i64) -> Vec<(&'static str, String, String)> {
        let mut out = Vec::new();
        let mut push = |field: &'static str, es: String, en: String| out.push((field, es, en));
        for (field, value, max, required) in [
            ("given", &self.given, GIVEN_CHARS_MAX, true),
            (
                "first_surname",
                &self.first_surname,
                SURNAME_CHARS_MAX,
                true,
            ),
            (
                "second_surname",
                &self.second_surname,
                SURNAME_CHARS_MAX,
                false,
            ),
        ] {
            let value = value.trim();
            if value.is_empty() {
                if required {
                    push(
                        field,
                        "Este dato es obligatorio.".into(),
                        "This is required.".into(),
                    );
                }
            } else if value.chars().count() > max {
                push(
                    field,
                    format!(
                        "Admite hasta {max} caracteres; tiene {}.",
                        value.chars().count()
                    ),
                    format!("Up to {max} characters; it has {}.", value.chars().count()),
                );
            } else if !is_name(value) {
                push(
                    field,
                    "Use solo letras, espacios, apóstrofo o guion.".into(),
                    "Use letters, spaces, apostrophes or hyphens only.".into(),
                );
            }
        }
        match check_birth_date(&self.birth_date, today) {
            Ok(Some(_)) => {}
            Ok(None) => push(
                "birth_date",
                "Escriba la fecha de nacimiento.".into(),
                "Type the birth date.".into(),
            ),
            Err((es, en)) => push("birth_date", es, en),
        }
        if !matches!(self.sex.as_str(), "H" | "M" | "X") {
            push("sex", "Elija el sexo.".into(), "Choose the sex.".into());
        }
        let phone = self.phone.trim();
        if !phone.is_empty() {
            let digits = phone.chars().filter(char::is_ascii_digit).count();
            let allowed = phone
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')'));
            if phone.chars().count() > PHONE_CHARS_MAX || !allowed || !(7..=15).contains(&digits) {
                push(
                    "phone",
                    "Escriba un teléfono de 10 dígitos (puede empezar con +52).".into(),
                    "Type a 10-digit phone number (it may start with +52).".into(),
                );
            }
        }
        if self.curp.chars().count() > 18 + 4 {
            push(
                "curp",
                "La CURP tiene 18 caracteres.".into(),
                "A CURP has 18 characters.".into(),
            );
        }
        out
    }

    /// The Patient to create (or to `$match` before creating).
    pub fn patient(&self, organization: Option<&str>) -> Value {
        let given: Vec<&str> = self.given.split_whitespace().collect();
        let family = self.family();
        let mut patient = json!({
            "resourceType": "Patient",
            "active": true,
            "name": [{
                "use": "official",
                "text": format!("{} {}", given.join(" "), family).trim().to_string(),
                "family": family,
                "given": given
            }],
            "gender": self.gender(),
        });
        let mut identifiers = Vec::new();
        let curp = mexico::curp::normalize(&self.curp);
        let mut extensions = Vec::new();
        if curp.is_empty() {
            extensions
                .push(json!({"url": mexico::systems::EXT_CURP_PENDING, "valueBoolean": true}));
        } else {
            identifiers
                .push(json!({"use": "official", "system": mexico::systems::CURP, "value": curp}));
        }
        if !self.birth_state.trim().is_empty() {
            extensions.push(json!({"url": mexico::systems::EXT_BIRTH_STATE, "valueString": self.birth_state.trim()}));
        }
        if !extensions.is_empty() {
            patient["extension"] = Value::Array(extensions);
        }
        if !identifiers.is_empty() {
            patient["identifier"] = Value::Array(identifiers);
        }
        if !self.birth_date.trim().is_empty() {
            patient["birthDate"] = json!(self.birth_date.trim());
        }
        if !self.phone.trim().is_empty() {
            patient["telecom"] =
                json!([{"system": "phone", "value": self.phone.trim(), "use": "mobile"}]);
        }
        if let Some(organization) = organization {
            patient["managingOrganization"] = json!({"reference": organization});
        }
        patient
    }
}

/// An addendum to a signed note: a new Composition that `appends` to it.
pub fn addendum(
    patient_id: &str,
    note: &Value,
    note_id: &str,
    text: &str,
    session: &SessionInfo,
    now: &str,
) -> Value {
    let mut addendum = json!({
        "resourceType": "Composition",
        "status": "final",
        "type": loinc("11506-3", "Progress note", "Nota de evolución"),
        "subject": {"reference": format!("Patient/{patient_id}")},
        "date": now,
        "author": [author(session)],
        "title": "Addendum",
        "attester": [{"mode": "legal", "time": now, "party": author(session)}],
        "relatesTo": [{"code": "appends", "targetReference": {"reference": format!("Composition/{note_id}")}}],
        "section": [{"title": "Addendum", "text": narrative(text)}]
    });
    if note["encounter"].is_object() {
        addendum["encounter"] = note["encounter"].clone();
    }
    addendum
}

/// The referral form (nota de referencia, NOM-004 §6.4).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReferForm {
    /// `Organization/{id}` of the receiving facility.
    pub to: String,
    pub reason: String,
    pub dx_code: String,
    pub treatment: String,
    pub summary: String,
    /// Days the receiving facility has to attend the patient before the referral is flagged
    /// overdue to the sender (empty: [`REFERRAL_DUE_DAYS_DEFAULT`]).
    pub due_days: String,
}

/// Days to attend a referral unless the sender states another time.
pub const REFERRAL_DUE_DAYS_DEFAULT: i64 = 30;

/// Longest time to attend a referral the form accepts (a year).
pub const REFERRAL_DUE_DAYS_MAX: i64 = 366;

/// `Task.code` of a referral's Task: the receiving facility is asked to fulfil the
/// ServiceRequest in `focus` (R4 task-code `fulfill`).
pub const TASK_CODE_SYSTEM: &str = "http://hl7.org/fhir/CodeSystem/task-code";
pub const TASK_CODE_FULFILL: &str = "fulfill";

/// The days to attend as typed: `None` when it is not a whole number from 1 to
/// [`REFERRAL_DUE_DAYS_MAX`]; empty means the default.
pub fn due_days(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.is_empty() {
        return Some(REFERRAL_DUE_DAYS_DEFAULT);
    }
    text.parse::<i64>()
        .ok()
        .filter(|d| (1..=REFERRAL_DUE_DAYS_MAX).contains(d))
}

/// What the referral's Task needs besides the ServiceRequest.
pub struct ReferralTaskInput<'a> {
    pub patient_id: &'a str,
    /// The ServiceRequest (`ServiceRequest/{id}` or a bundle's `urn:uuid:…`).
    pub focus: &'a str,
    pub to: &'a str,
    pub to_name: &'a str,
    pub to_clues: &'a str,
    pub description: String,
    pub session: &'a SessionInfo,
    pub now: &'a str,
    /// `restriction.period.end`: attended by then, or the sender sees it overdue.
    pub due: &'a str,
}

/// The Task that carries a referral to the receiving facility: `owner` names it by reference
/// and by CLUES (sync routes the patient's record to the node of that CLUES), `status`
/// `requested` until it accepts or rejects.
pub fn referral_task(input: &ReferralTaskInput<'_>) -> Value {
    let mut task = json!({
        "resourceType": "Task",
        "status": "requested",
        "intent": "order",
        "priority": "routine",
        "code": {"coding": [{"system": TASK_CODE_SYSTEM, "code": TASK_CODE_FULFILL, "display": "Fulfill the focal request"}], "text": "Referencia"},
        "description": input.description,
        "focus": {"reference": input.focus},
        "for": {"reference": format!("Patient/{}", input.patient_id)},
        "authoredOn": input.now,
        "lastModified": input.now,
        "owner": {
            "reference": input.to,
            "identifier": {"system": mexico::systems::CLUES, "value": input.to_clues},
            "display": input.to_name
        },
        "restriction": {"period": {"end": input.due}}
    });
    task["requester"] = match &input.session.organization {
        Some(organization) => json!({
            "reference": organization,
            "identifier": {"system": mexico::systems::CLUES, "value": input.session.facility_clues},
            "display": input.session.facility_name
        }),
        None => author(input.session),
    };
    task
}

pub struct ReferInput<'a> {
    pub patient_id: &'a str,
    pub form: &'a ReferForm,
    pub to_name: &'a str,
    pub to_clues: &'a str,
    pub diagnosis: Option<(&'a str, &'a str)>,
    pub session: &'a SessionInfo,
    pub now: &'a str,
}

pub fn referral(input: &ReferInput<'_>) -> Value {
    let form = input.form;
    let mut notes = vec![
        json!({"text": format!("Establecimiento que envía: {} (CLUES {})", input.session.facility_name, input.session.facility_clues)}),
        json!({"text": format!("Establecimiento receptor: {} (CLUES {})", input.to_name, input.to_clues)}),
        json!({"text": format!("Motivo de envío: {}", form.reason.trim())}),
    ];
    if !form.treatment.trim().is_empty() {
        notes.push(json!({"text": format!("Terapéutica empleada: {}", form.treatment.trim())}));
    }
    if !form.summary.trim().is_empty() {
        notes.push(json!({"text": format!("Resumen clínico: {}", form.summary.trim())}));
    }
    let mut request = json!({
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "3457005", "display": "Patient referral"}], "text": "Referencia"}],
        "priority": "routine",
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "103696004", "display": "Patient referral to specialist"}], "text": format!("Referencia a {}", input.to_name)},
        "subject": {"reference": format!("Patient/{}", input.patient_id)},
        "authoredOn": input.now,
        "performer": [{
            "reference": form.to,
            "identifier": {"system": mexico::systems::CLUES, "value": input.to_clues},
            "display": input.to_name
        }],
        "note": notes
    });
    request["requester"] = match &input.session.organization {
        Some(organization) => {
            json!({"reference": organization, "display": format!("{} — {}", input.session.facility_name, input.session.display_name)})
        }
        None => author(input.session),
    };
    if let Some((code, display)) = input.diagnosis {
        request["reasonCode"] = json!([cie10_concept(code, display)]);
    }
    request
}

#[cfg(test)]
mod tests;
