//! Public-health reports computed from the record (issue 16): the three fixed CSV contracts
//! (`new-cases`, `consultations`, `diabetes-control`) and the figures behind the
//! surveillance page. Counts only, never names or ids.
//!
//! Who: epidemiologists and system integrations ([`Operation::ReadReports`]), decided by role
//! before anything is read, like the de-identified aggregates: these roles have no record
//! access, and what leaves is a count per facility, state or week. Every request is audited
//! (its parameters in the details), refused or not.
//!
//! How: new cases (surveillance, `new-cases.csv`) come from the incremental index
//! ([`incremental`]: kept current from the change log); the other figures are read from the
//! store page by page at request time and counted in memory ([`calc`], pure), fine for a
//! clinic (10^4–10^5 resources).

pub mod calc;
pub mod control;
pub mod coverage;
pub mod dates;
pub mod demand;
pub mod facts;
pub mod incremental;
pub mod kept;
pub mod quality;
pub mod surveillance;
#[cfg(test)]
mod testing;

use auth::audit::{AuditAction, Outcome};
use auth::policy::{Decision, Operation};
use fhir::{Issue, IssueCode, Json};
use time::Date;

pub use calc::{ConsultationsRow, ControlRow, DiabetesControlRow, NewCasesRow};
pub use coverage::CoverageRow;
pub use quality::{QualityRow, RepeatedTestsRow};
pub use surveillance::{Surveillance, SurveillanceRow};

use crate::lookup::internal_query;
use crate::{Ehr, Error, Requester};

/// Longest period one report covers (ten years of days): bounds the work of one request.
pub const PERIOD_DAYS_MAX: i64 = 3_660;

/// Chronic-disease control per facility on one date.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChronicControl {
    pub as_of: Date,
    pub diabetes: Vec<ControlRow>,
    pub hypertension: Vec<ControlRow>,
}

/// Weeks the surveillance view shows when not asked.
pub const SURVEILLANCE_WEEKS_DEFAULT: usize = 12;

/// The parameter that asks any CSV report for its public, de-identified variant
/// (`?publico=1`): every count from 1 to [`crate::SMALL_CELL_MIN`] − 1 is written `<5`.
pub const PUBLIC_PARAM: &str = "publico";

/// The parameter that narrows any report to one state (`?estado=JC`, the two letters that
/// start its CLUES). A state-scoped account may name only its own state.
pub const STATE_PARAM: &str = "estado";

/// Where a report's figures may come from for one request: the nation, or one state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    /// The state's two-letter code (`JC`); `None` is the whole node (the nation on the hub).
    pub state: Option<String>,
}

impl Scope {
    /// Whether a facility's figures are in scope (its CLUES starts with the state's code).
    pub fn admits_clues(&self, clues: &str) -> bool {
        self.state.as_deref().is_none_or(|state| {
            clues
                .get(..2)
                .is_some_and(|prefix| prefix.eq_ignore_ascii_case(state))
        })
    }

    /// Whether a state's figures are in scope.
    pub fn admits_state(&self, state: &str) -> bool {
        self.state
            .as_deref()
            .is_none_or(|own| own.eq_ignore_ascii_case(state))
    }
}

/// The state an account is confined to: an account that may read reports and carries a
/// CLUES (or a bare state code such as `JC`) sees that state only; one without is national.
/// Why from `clues`: accounts already carry their facility, and a state's epidemiology
/// office is named by the CLUES of its jurisdiction (whose first two letters are the state).
/// A value too short to name a state confines the account to nothing rather than to all.
pub fn account_state(principal: &auth::role::Principal) -> Option<String> {
    let clues = principal.clues.as_deref()?.trim();
    if clues.is_empty() {
        return None;
    }
    Some(clues.get(..2).unwrap_or(clues).to_ascii_uppercase())
}

/// The scope of one request: the account's state, narrowed (never widened) by `estado`.
pub fn scope(
    principal: &auth::role::Principal,
    params: &[(String, String)],
) -> Result<Scope, Error> {
    let own = account_state(principal);
    let asked = match single(params, STATE_PARAM)?.map(str::trim) {
        None | Some("") => None,
        Some(text) => {
            let code = text.to_ascii_uppercase();
            if !mexico::states::by_curp_code(&code).is_some_and(|s| s.is_federal_entity()) {
                let text: String = text.chars().take(20).collect();
                return Err(bad(
                    format!(
                        "«{STATE_PARAM}» debe ser la clave de dos letras de una entidad federativa (JC, DF, …); se recibió «{text}»."
                    ),
                    format!(
                        "'{STATE_PARAM}' must be the two-letter code of a Mexican state (JC, DF, …); got '{text}'."
                    ),
                ));
            }
            Some(code)
        }
    };
    match (own, asked) {
        (Some(own), Some(asked)) if own != asked => Err(Error::Forbidden(Issue::error(
            IssueCode::Forbidden,
            format!(
                "Acceso denegado: su cuenta ve solo los reportes de la entidad {own}; no puede pedir los de {asked}."
            ),
            format!(
                "Access denied: your account sees the reports of state {own} only; it may not ask for {asked}."
            ),
        ))),
        (own, asked) => Ok(Scope {
            state: asked.or(own),
        }),
    }
}

/// Which variant of a report's CSV.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Publication {
    /// Exact counts: for epidemiologists and integrations.
    Full,
    /// For publication: small cells suppressed (a count of 1–4 in a small place or for a
    /// rare code can name a person). Counts are not otherwise perturbed, so a cell is not
    /// protected from being recomputed from a total published elsewhere.
    Public,
}

/// Reads `publico` (`1`/`true`/`si`, `0`/`false`; absent is [`Publication::Full`]).
pub fn publication(params: &[(String, String)]) -> Result<Publication, Error> {
    let value = single(params, PUBLIC_PARAM)?;
    match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("" | "0" | "false" | "no") => Ok(Publication::Full),
        Some("1" | "true" | "si" | "sí") => Ok(Publication::Public),
        Some(other) => {
            let other: String = other.chars().take(20).collect();
            Err(bad(
                format!("«{PUBLIC_PARAM}» debe ser 1 o 0; se recibió «{other}»."),
                format!("'{PUBLIC_PARAM}' must be 1 or 0; got '{other}'."),
            ))
        }
    }
}

/// A count as the variant writes it.
fn count(n: u64, publication: Publication) -> String {
    if publication == Publication::Public && (1..crate::SMALL_CELL_MIN).contains(&n) {
        format!("<{}", crate::SMALL_CELL_MIN)
    } else {
        n.to_string()
    }
}

/// The `new-cases.csv` header, as the contract writes it.
pub const NEW_CASES_HEADER: &str = "state,epi_year,epi_week,cie10,cases";
/// The `consultations.csv` header.
pub const CONSULTATIONS_HEADER: &str = "clues,date,consultations";
/// The `diabetes-control.csv` header.
pub const DIABETES_CONTROL_HEADER: &str = "clues,patients,with_hba1c_12m,controlled";

impl Ehr {
    /// New cases per state, epidemiological week and CIE-10 code, dated `from..=to`.
    /// `params`: `from` and `to` (`YYYY-MM-DD`, both inclusive), nothing else.
    pub fn report_new_cases(
        &self,
        who: &Requester,
        params: &[(String, String)],
    ) -> Result<Vec<NewCasesRow>, Error> {
        let details = format!("reporte new-cases {}", shown(params));
        self.report(who, &details, params, |scope| {
            let (from, to) = period(params)?;
            let mut rows = self.new_cases_indexed(from, to)?;
            rows.retain(|r| scope.admits_state(&r.state));
            Ok(rows)
        })
    }

    /// Finished ambulatory consultations per facility and Mexico City date, `from..=to`.
    /// `params`: `from` and `to` (`YYYY-MM-DD`, both inclusive), nothing else.
    pub fn report_consultations(
        &self,
        who: &Requester,
        params: &[(String, String)],
    ) -> Result<Vec<ConsultationsRow>, Error> {
        let details = format!("reporte consultations {}", shown(params));
        self.report(who, &details, params, |scope| {
            let (from, to) = period(params)?;
            let mut rows = self.report_indexes().visits.view(self, |_, visits| {
                calc::consultation_rows(visits.values(), from, to)
            })?;
            rows.retain(|r| scope.admits_clues(&r.clues));
            Ok(rows)
        })
    }

    /// Diabetes control per facility on `as_of`.
    /// `params`: `as_of` (`YYYY-MM-DD`), nothing else.
    pub fn report_diabetes_control(
        &self,
        who: &Requester,
        params: &[(String, String)],
    ) -> Result<Vec<DiabetesControlRow>, Error> {
        let details = format!("reporte diabetes-control {}", shown(params));
        self.report(who, &details, params, |scope| {
            only(params, &["as_of"])?;
            let as_of = day_param("as_of", single(params, "as_of")?)?;
            let mut rows = self
                .control_indexed(as_of, &[calc::Disease::Diabetes])?
                .pop()
                .unwrap_or_default();
            rows.retain(|r| scope.admits_clues(&r.clues));
            Ok(rows)
        })
    }

    /// The weekly surveillance view. `params`: `semana` (a date in the last week shown,
    /// `YYYY-MM-DD`; default today in Mexico City) and `semanas` (how many weeks, 1–52;
    /// default [`SURVEILLANCE_WEEKS_DEFAULT`]).
    pub fn report_surveillance(
        &self,
        who: &Requester,
        params: &[(String, String)],
    ) -> Result<Surveillance, Error> {
        let details = format!("reporte vigilancia {}", shown(params));
        self.report(who, &details, params, |scope| {
            only(params, &["semana", "semanas"])?;
            let day = match single(params, "semana")? {
                Some(text) if !text.is_empty() => day_param("semana", Some(text))?,
                _ => self.today_mexico_city(),
            };
            let count = match single(params, "semanas")? {
                Some(text) if !text.is_empty() => text
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=52).contains(n))
                    .ok_or_else(|| {
                        bad(
                            "«semanas» debe ser un número de 1 a 52.".to_string(),
                            "'semanas' must be a number from 1 to 52.".to_string(),
                        )
                    })?,
                _ => SURVEILLANCE_WEEKS_DEFAULT,
            };
            let (year, week) = dates::epi_week(day);
            let week_end = dates::epi_week_start(year, week)
                .map(|sunday| sunday + time::Duration::days(6))
                .unwrap_or(day);
            let mut history = self.new_cases_indexed(Date::MIN, week_end)?;
            history.retain(|r| scope.admits_state(&r.state));
            Ok(surveillance::surveillance(&history, day, count))
        })
    }

    /// Today's civil date in Mexico City, by the node's clock.
    pub fn today_mexico_city(&self) -> Date {
        let now = time::OffsetDateTime::from_unix_timestamp(self.now_ms().div_euclid(1000))
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        let offset = time::UtcOffset::from_whole_seconds(dates::mexico_city_offset_seconds(now))
            .unwrap_or(time::UtcOffset::UTC);
        now.to_offset(offset).date()
    }

    /// Chronic-disease control per facility on `as_of` (default today in Mexico City):
    /// diabetes (HbA1c, as the CSV contract) and hypertension (blood pressure).
    /// `params`: `as_of` (`YYYY-MM-DD`, optional).
    pub fn report_chronic_control(
        &self,
        who: &Requester,
        params: &[(String, String)],
    ) -> Result<ChronicControl, Error> {
        let details = format!("reporte control-cronico {}", shown(params));
        self.report(who, &details, params, |scope| {
            only(params, &["as_of"])?;
            let as_of = match single(params, "as_of")? {
                Some(text) if !text.is_empty() => day_param("as_of", Some(text))?,
                _ => self.today_mexico_city(),
            };
            let mut rows = self
                .control_indexed(
                    as_of,
                    &[calc::Disease::Diabetes, calc::Disease::Hypertension],
                )?
                .into_iter();
            let mut control = ChronicControl {
                as_of,
                diabetes: rows.next().unwrap_or_default(),
                hypertension: rows.next().unwrap_or_default(),
            };
            control.diabetes.retain(|r| scope.admits_clues(&r.clues));
            control
                .hypertension
                .retain(|r| scope.admits_clues(&r.clues));
            Ok(control)
        })
    }

    /// Vaccination coverage against the national schedule per facility, birth year and dose
    /// on `as_of` ([`coverage`]). `params`: `as_of` (`YYYY-MM-DD`; default today in Mexico
    /// City).
    pub fn report_vaccination_coverage(
        &self,
        who: &Requester,
        params: &[(String, String)],
    ) -> Result<Vec<CoverageRow>, Error> {
        let details = format!("reporte vaccination-coverage {}", shown(params));
        self.report(who, &details, params, |scope| {
            only(params, &["as_of"])?;
            let as_of = match single(params, "as_of")? {
                Some(text) if !text.is_empty() => day_param("as_of", Some(text))?,
                _ => self.today_mexico_city(),
            };
            let mut rows = self.report_indexes().children.view(self, |_, children| {
                coverage::coverage_rows(children.values(), as_of)
            })?;
            rows.retain(|r| scope.admits_clues(&r.clues));
            Ok(rows)
        })
    }

    /// Medicine demand per facility and CNIS key per month, with the forecast of the next
    /// three months ([`demand`]). `params`: `month` (`YYYY-MM`, the last complete month held;
    /// default the month before the current one in Mexico City).
    pub fn report_medicine_demand(
        &self,
        who: &Requester,
        params: &[(String, String)],
    ) -> Result<Vec<demand::DemandRow>, Error> {
        let details = format!("reporte medicine-demand {}", shown(params));
        self.report(who, &details, params, |scope| {
            only(params, &["month"])?;
            let last = match single(params, "month")? {
                Some(text) if !text.is_empty() => month_param(text)?,
                _ => {
                    let today = self.today_mexico_city();
                    let (y, m) = (today.year(), u8::from(today.month()));
                    if m == 1 { (y - 1, 12) } else { (y, m - 1) }
                }
            };
            let mut rows = self
                .report_indexes()
                .prescriptions
                .view(self, |_, prescriptions| {
                    demand::demand_rows(prescriptions.values().flat_map(|p| p.0.iter()), last)
                })?;
            rows.retain(|r| scope.admits_clues(&r.clues));
            Ok(rows)
        })
    }

    /// Report 5: repeated-laboratory warnings shown and tests ordered anyway per facility
    /// and month ([`quality::repeated_tests`]). `params`: `from` and `to` (`YYYY-MM-DD`,
    /// both inclusive; default the twelve months up to today in Mexico City).
    pub fn report_repeated_tests(
        &self,
        who: &Requester,
        params: &[(String, String)],
    ) -> Result<Vec<RepeatedTestsRow>, Error> {
        let details = format!("reporte repeated-tests {}", shown(params));
        self.report(who, &details, params, |scope| {
            let given = |name| single(params, name).map(|v| v.is_some_and(|v| !v.is_empty()));
            let (from, to) = if given("from")? || given("to")? {
                period(params)?
            } else {
                only(params, &["from", "to"])?;
                let today = self.today_mexico_city();
                let first = dates::months_before(today, 11);
                (first.replace_day(1).unwrap_or(first), today)
            };
            let mut rows = self.report_indexes().warnings.view(self, |_, warnings| {
                quality::repeated_tests(warnings.values(), from, to)
            })?;
            rows.retain(|r| scope.admits_clues(&r.clues));
            Ok(rows)
        })
    }

    /// Report 6: data quality per facility, now ([`quality::data_quality`]). `params`:
    /// none besides `estado` and `publico`.
    pub fn report_data_quality(
        &self,
        who: &Requester,
        params: &[(String, String)],
    ) -> Result<Vec<QualityRow>, Error> {
        let details = format!("reporte data-quality {}", shown(params));
        self.report(who, &details, params, |scope| {
            only(params, &[])?;
            let code = format!(
                "{}|{}",
                crate::TASK_CODE_SYSTEM,
                crate::TASK_CODE_REVIEW_DUPLICATE
            );
            let review_tasks = self.scan(
                "Task",
                &[
                    ("code", code.as_str()),
                    ("status", crate::OPEN_TASK_STATUSES),
                ],
            )?;
            let mut rows = self
                .report_indexes()
                .quality
                .view(self, |_, facts| quality::data_quality(facts, &review_tasks))?;
            rows.retain(|r| scope.admits_clues(&r.clues));
            Ok(rows)
        })
    }

    /// Whether `who` may read reports at all (the role's decision, before any scope).
    pub(crate) fn may_read_reports(&self, who: &Requester) -> Result<(), auth::policy::DenyReason> {
        match auth::policy::decide_operation(&who.principal, Operation::ReadReports) {
            Decision::Deny(reason) => Err(reason),
            Decision::Permit(_) => Ok(()),
        }
    }

    /// Decides, runs and audits one report request: the role first, then the scope (a
    /// state-scoped account asking for another state is refused before anything is read).
    fn report<T>(
        &self,
        who: &Requester,
        details: &str,
        params: &[(String, String)],
        run: impl FnOnce(&Scope) -> Result<T, Error>,
    ) -> Result<T, Error> {
        if let Err(reason) = self.may_read_reports(who) {
            let mut entry = self.audit_entry(who, AuditAction::Operation, Outcome::Denied);
            entry.details = format!("{details}: {}", reason.message_en());
            self.audit_later(entry);
            return Err(crate::guard::forbidden(reason));
        }
        let scope = match scope(&who.principal, params) {
            Ok(scope) => scope,
            Err(error) => {
                let mut entry = self.audit_entry(who, AuditAction::Operation, Outcome::Denied);
                entry.details = format!("{details}: {error}");
                self.audit_later(entry);
                return Err(error);
            }
        };
        let result = run(&scope);
        let outcome = match &result {
            Ok(_) => Outcome::Success,
            Err(Error::BadRequest(_)) => Outcome::Denied,
            Err(_) => Outcome::Error,
        };
        let mut entry = self.audit_entry(who, AuditAction::Operation, outcome);
        entry.details = details.to_string();
        self.audit_later(entry);
        result
    }

    /// The facility directory: every Organization and Location with its CLUES.
    pub(super) fn facilities(&self) -> Result<calc::Facilities, Error> {
        let organizations = self.scan("Organization", &[])?;
        let locations = self.scan("Location", &[])?;
        Ok(calc::Facilities::new(&organizations, &locations))
    }

    /// [`Ehr::scan`], narrowed to some patients' resources (their `patient` search
    /// parameter) when `patients` is given. One search per patient: a search with one
    /// reference is driven by the reference index, one with many OR-ed values is not (the
    /// first 10^6-resource rebuild took over a minute that way).
    fn scan_of(
        &self,
        resource_type: &str,
        patients: Option<&[String]>,
        params: &[(&str, &str)],
    ) -> Result<Vec<Json>, Error> {
        let Some(patients) = patients else {
            return self.scan(resource_type, params);
        };
        let mut found = Vec::new();
        for id in patients {
            let reference = format!("Patient/{id}");
            let mut narrowed = params.to_vec();
            narrowed.push(("patient", reference.as_str()));
            found.extend(self.scan(resource_type, &narrowed)?);
        }
        Ok(found)
    }

    /// Every current Patient (`None`), or those named (read by id; the deleted and unknown
    /// left out).
    fn scan_patients(&self, patients: Option<&[String]>) -> Result<Vec<Json>, Error> {
        let Some(ids) = patients else {
            return self.scan("Patient", &[]);
        };
        self.read_current("Patient", ids.iter().map(String::as_str))
    }

    /// The current Encounters with these ids (those missing or deleted left out).
    fn read_encounters<'a>(
        &self,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<Vec<Json>, Error> {
        self.read_current("Encounter", ids)
    }

    /// The current resources of a type with these ids, each once, read by id.
    fn read_current<'a>(
        &self,
        resource_type: &str,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<Vec<Json>, Error> {
        let mut named: Vec<&str> = ids.into_iter().collect();
        named.sort_unstable();
        named.dedup();
        let mut found = Vec::new();
        for id in named {
            if let Some(stored) = self.store().read(resource_type, id)?
                && !stored.deleted
                && let Ok(resource) = fhir::json::parse_str(&stored.body)
            {
                found.push(resource);
            }
        }
        Ok(found)
    }

    /// Every current resource of a type matching `params`, read page by page (keyset
    /// positions, so concurrent writes neither skip nor repeat a resource present throughout).
    fn scan(&self, resource_type: &str, params: &[(&str, &str)]) -> Result<Vec<Json>, Error> {
        let mut found = Vec::new();
        self.scan_pages(resource_type, params, |page| {
            found.extend(page);
            Ok(())
        })?;
        Ok(found)
    }

    /// [`Ehr::scan`], one page at a time: `each` gets every page's current resources (at most
    /// [`store::PAGE_SIZE_MAX`]), so what is held at once is one page, whatever the record's
    /// size.
    fn scan_pages(
        &self,
        resource_type: &str,
        params: &[(&str, &str)],
        mut each: impl FnMut(Vec<Json>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let params: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        let mut query = internal_query(resource_type, &params, self.now_ms())?;
        query.count = Some(u32::try_from(store::PAGE_SIZE_MAX).unwrap_or(1_000));
        query.total = Some(search::Total::None);
        loop {
            let page = self.store().search(&query)?;
            let mut found = Vec::with_capacity(page.matches.len());
            for stored in &page.matches {
                if stored.deleted {
                    continue;
                }
                let resource = fhir::json::parse_str(&stored.body).map_err(|e| {
                    Error::Internal(format!(
                        "stored {resource_type}/{} does not parse: {e}",
                        stored.id
                    ))
                })?;
                found.push(resource);
            }
            each(found)?;
            match page.positions.last() {
                Some(last) if page.more => query.cursor = Some(format!("n{last}")),
                _ => return Ok(()),
            }
        }
    }
}

/// The parameters as written into the audit trail (bounded: it is the requester's text).
fn shown(params: &[(String, String)]) -> String {
    params
        .iter()
        .take(8)
        .map(|(k, v)| {
            let k: String = k.chars().take(20).collect();
            let v: String = v.chars().take(40).collect();
            format!("{k}={v}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Refuses parameters the report does not take (a misspelt `form=` must not silently mean
/// "no period").
fn only(params: &[(String, String)], known: &[&str]) -> Result<(), Error> {
    let unknown: Vec<String> = params
        .iter()
        .filter(|(k, _)| !known.contains(&k.as_str()) && k != PUBLIC_PARAM && k != STATE_PARAM)
        .map(|(k, _)| k.chars().take(40).collect())
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    Err(bad(
        format!(
            "Parámetros desconocidos: {}; este reporte acepta solo {}.",
            unknown.join(", "),
            known.join(", ")
        ),
        format!(
            "Unknown parameters: {}; this report takes only {}.",
            unknown.join(", "),
            known.join(", ")
        ),
    ))
}

/// The one value of a parameter (given twice is an error: which one was meant?).
fn single<'a>(params: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, Error> {
    let mut values = params
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str());
    let first = values.next();
    if values.next().is_some() {
        return Err(bad(
            format!("El parámetro «{name}» aparece más de una vez."),
            format!("Parameter '{name}' is given more than once."),
        ));
    }
    Ok(first)
}

/// A required `YYYY-MM-DD` parameter.
fn day_param(name: &str, value: Option<&str>) -> Result<Date, Error> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Err(bad(
            format!("Falta el parámetro «{name}» (una fecha AAAA-MM-DD)."),
            format!("Missing parameter '{name}' (a date YYYY-MM-DD)."),
        ));
    };
    dates::parse_day(value).ok_or_else(|| {
        let value: String = value.chars().take(40).collect();
        bad(
            format!(
                "El parámetro «{name}» debe ser una fecha AAAA-MM-DD válida; se recibió «{value}»."
            ),
            format!("Parameter '{name}' must be a valid date YYYY-MM-DD; got '{value}'."),
        )
    })
}

/// A `YYYY-MM` parameter.
fn month_param(text: &str) -> Result<demand::Month, Error> {
    let parsed = text
        .split_once('-')
        .filter(|(y, m)| y.len() == 4 && m.len() == 2)
        .and_then(|(y, m)| Some((y.parse::<i32>().ok()?, m.parse::<u8>().ok()?)))
        .filter(|(y, m)| (1900..=9999).contains(y) && (1..=12).contains(m));
    parsed.ok_or_else(|| {
        let text: String = text.chars().take(40).collect();
        bad(
            format!("«month» debe ser un mes AAAA-MM; se recibió «{text}»."),
            format!("'month' must be a month YYYY-MM; got '{text}'."),
        )
    })
}

/// `from` and `to`, both inclusive, in order, at most [`PERIOD_DAYS_MAX`] days apart.
pub fn period(params: &[(String, String)]) -> Result<(Date, Date), Error> {
    only(params, &["from", "to"])?;
    let (from, to) = (single(params, "from")?, single(params, "to")?);
    let (from, to) = match (day_param("from", from), day_param("to", to)) {
        (Ok(from), Ok(to)) => (from, to),
        (Err(Error::BadRequest(mut a)), Err(Error::BadRequest(b))) => {
            a.extend(b);
            return Err(Error::BadRequest(a));
        }
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    if from > to {
        return Err(bad(
            format!(
                "«from» ({}) es posterior a «to» ({}); ambas fechas se incluyen.",
                dates::format_day(from),
                dates::format_day(to)
            ),
            format!(
                "'from' ({}) is after 'to' ({}); both dates are inclusive.",
                dates::format_day(from),
                dates::format_day(to)
            ),
        ));
    }
    if (to - from).whole_days() >= PERIOD_DAYS_MAX {
        return Err(bad(
            format!("El periodo abarca más de {PERIOD_DAYS_MAX} días; pida periodos más cortos."),
            format!("The period spans more than {PERIOD_DAYS_MAX} days; ask for shorter periods."),
        ));
    }
    Ok((from, to))
}

fn bad(es: String, en: String) -> Error {
    Error::BadRequest(vec![Issue::error(IssueCode::Invalid, es, en)])
}

/// `new-cases.csv`: the header, then one line per row (UTF-8, no BOM, `\n` line ends).
pub fn new_cases_csv(rows: &[NewCasesRow], publication: Publication) -> String {
    let mut out = format!("{NEW_CASES_HEADER}\n");
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{},{}\n",
            r.state,
            r.epi_year,
            r.epi_week,
            csv_field(&r.cie10),
            count(r.cases, publication)
        ));
    }
    out
}

/// `consultations.csv`.
pub fn consultations_csv(rows: &[ConsultationsRow], publication: Publication) -> String {
    let mut out = format!("{CONSULTATIONS_HEADER}\n");
    for r in rows {
        out.push_str(&format!(
            "{},{},{}\n",
            csv_field(&r.clues),
            dates::format_day(r.date),
            count(r.consultations, publication)
        ));
    }
    out
}

/// `diabetes-control.csv`.
pub fn diabetes_control_csv(rows: &[DiabetesControlRow], publication: Publication) -> String {
    let mut out = format!("{DIABETES_CONTROL_HEADER}\n");
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{}\n",
            csv_field(&r.clues),
            count(r.patients, publication),
            count(r.measured_12m, publication),
            count(r.controlled, publication)
        ));
    }
    out
}

/// A text field as RFC 4180 wants it: quoted when it holds a comma, quote or line break
/// (codes and CLUES as recorded are the requester's data, not ours).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// The `vaccination-coverage.csv` header.
pub const VACCINATION_COVERAGE_HEADER: &str =
    "clues,birth_year,cvx,vaccine,dose,eligible,vaccinated";

/// `vaccination-coverage.csv`: one line per facility, birth year and scheduled dose with
/// eligible children (`vaccine` in Spanish, as the Cartilla names it).
pub fn vaccination_coverage_csv(rows: &[CoverageRow], publication: Publication) -> String {
    let mut out = format!("{VACCINATION_COVERAGE_HEADER}\n");
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            csv_field(&r.clues),
            r.birth_year,
            r.cvx,
            csv_field(r.vaccine_es),
            r.dose,
            count(r.eligible, publication),
            count(r.vaccinated, publication)
        ));
    }
    out
}

/// `medicine-demand.csv`: `clues,cnis,month,kind,prescriptions,units`, `kind` `observed` (months
/// with prescriptions) or `forecast` (the next three months; no prescription count).
pub fn medicine_demand_csv(rows: &[demand::DemandRow], publication: Publication) -> String {
    let mut out = String::from("clues,cnis,month,kind,prescriptions,units\n");
    for r in rows {
        for ((y, m), n, units) in &r.history {
            if *n == 0 {
                continue;
            }
            out.push_str(&format!(
                "{},{},{y:04}-{m:02},observed,{},{}\n",
                csv_field(&r.clues),
                csv_field(&r.cnis),
                count(*n, publication),
                number_text(*units)
            ));
        }
        for ((y, m), units) in &r.forecast {
            out.push_str(&format!(
                "{},{},{y:04}-{m:02},forecast,,{units}\n",
                csv_field(&r.clues),
                csv_field(&r.cnis)
            ));
        }
    }
    out
}

/// The `repeated-tests.csv` header.
pub const REPEATED_TESTS_HEADER: &str = "clues,month,warnings,ordered_anyway";

/// `repeated-tests.csv`: one line per facility and month with a warning.
pub fn repeated_tests_csv(rows: &[RepeatedTestsRow], publication: Publication) -> String {
    let mut out = format!("{REPEATED_TESTS_HEADER}\n");
    for r in rows {
        out.push_str(&format!(
            "{},{:04}-{:02},{},{}\n",
            csv_field(&r.clues),
            r.month.0,
            r.month.1,
            count(r.warnings, publication),
            count(r.ordered_anyway, publication)
        ));
    }
    out
}

/// The `data-quality.csv` header.
pub const DATA_QUALITY_HEADER: &str = "clues,patients,valid_curp,duplicates_pending,notes,notes_incomplete,encounters,encounters_without_diagnosis";

/// `data-quality.csv`: one line per facility.
pub fn data_quality_csv(rows: &[QualityRow], publication: Publication) -> String {
    let mut out = format!("{DATA_QUALITY_HEADER}\n");
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{}\n",
            csv_field(&r.clues),
            count(r.patients, publication),
            count(r.valid_curp, publication),
            count(r.duplicates_pending, publication),
            count(r.notes, publication),
            count(r.notes_incomplete, publication),
            count(r.encounters, publication),
            count(r.encounters_without_diagnosis, publication)
        ));
    }
    out
}

/// A quantity without a trailing `.0`.
fn number_text(value: f64) -> String {
    if (value - value.round()).abs() < 1e-9 {
        format!("{value:.0}")
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_variant_suppresses_counts_from_one_to_four_only() {
        let shown: Vec<String> = [0, 1, 4, 5, 12]
            .iter()
            .map(|n| count(*n, Publication::Public))
            .collect();
        assert_eq!(shown, ["0", "<5", "<5", "5", "12"]);
        assert_eq!(count(3, Publication::Full), "3");
        let params = |v: &str| vec![("publico".to_string(), v.to_string())];
        assert_eq!(publication(&[]).ok(), Some(Publication::Full));
        assert_eq!(publication(&params("1")).ok(), Some(Publication::Public));
        assert_eq!(publication(&params("0")).ok(), Some(Publication::Full));
        assert!(publication(&params("quizá")).is_err());
    }
}
