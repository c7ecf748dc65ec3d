//! Finding a patient: by CURP (checked as typed), or by name and birth date — forgiving what
//! clerks get wrong: a missing given name, a birth date one day off or with day and month
//! swapped (each such row says so), a misspelt name (`$match`), and a name alone, a page at a
//! time. Also the small fragments the page's script fetches (CURP check, CIE-10 choices).

use std::collections::HashSet;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use super::{AppState, Ctx, Layout, blocking, ehr_error, render, to_json, to_login};
use crate::forms::{self, RegisterForm};
use crate::i18n::Tr;
use crate::{chart, data, dates};

/// Longest name or surnames typed in a search (a name, not a paragraph).
pub const NAME_QUERY_CHARS_MAX: usize = 100;

/// One patient in a result list.
pub struct PatientRow {
    pub id: String,
    pub name: String,
    pub curp: String,
    pub birth: String,
    pub registered_at: String,
    /// Message key of the match grade.
    pub grade: Option<&'static str>,
    pub duplicate: bool,
    /// Message key of how the birth date differs from the one typed, when it does.
    pub date_note: Option<&'static str>,
}

fn grade_key(grade: &str) -> &'static str {
    match grade {
        "certain" => "find.grade.certain",
        "probable" => "find.grade.probable",
        _ => "find.grade.possible",
    }
}

/// A found patient, with how it was found.
pub(crate) struct Found {
    pub patient: Value,
    pub grade: Option<&'static str>,
    pub date_note: Option<&'static str>,
}

impl Found {
    pub(crate) fn plain(patient: Value) -> Found {
        Found {
            patient,
            grade: None,
            date_note: None,
        }
    }
}

/// Rows for patients: facility names and open duplicate reviews looked up (the reviews only
/// for roles that may read them).
pub(crate) fn patient_rows(db: &data::Db, found: Vec<Found>) -> data::Result<Vec<PatientRow>> {
    let facilities = data::facilities(
        db,
        found.iter().filter_map(|f| {
            f.patient["managingOrganization"]["reference"]
                .as_str()
                .map(str::to_string)
        }),
    )?;
    let mut rows = Vec::new();
    let mut reviews_readable = true;
    for Found {
        patient,
        grade,
        date_note,
    } in found
    {
        let id = patient["id"].as_str().unwrap_or_default().to_string();
        let duplicate = if reviews_readable {
            match data::open_duplicate_reviews(db, &id) {
                Ok(n) => n > 0,
                // Reception may not read review tasks (clinical content): no pill, no refusal.
                Err(ehr::Error::Forbidden(_)) => {
                    reviews_readable = false;
                    false
                }
                Err(error) => return Err(error),
            }
        } else {
            false
        };
        let registered_at = patient["managingOrganization"]["reference"]
            .as_str()
            .and_then(|r| facilities.get(r))
            .map(|f| format!("{} ({})", f.name, f.clues))
            .unwrap_or_default();
        rows.push(PatientRow {
            name: chart::name_of(&patient),
            curp: chart::curp_of(&patient).unwrap_or_default(),
            birth: dates::display_text(patient["birthDate"].as_str().unwrap_or_default()),
            registered_at,
            grade: grade.map(grade_key),
            duplicate,
            date_note,
            id,
        });
    }
    Ok(rows)
}

#[derive(Template)]
#[template(path = "find.html")]
struct FindPage {
    layout: Layout,
    curp: String,
    curp_status: String,
    given: String,
    surnames: String,
    birth_date: String,
    errors: Vec<String>,
    searched: bool,
    rows: Vec<PatientRow>,
    register_href: String,
    /// The next page of a name search.
    next_href: Option<String>,
    /// The search was by name alone (paginated).
    paged: bool,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct FindQuery {
    curp: String,
    given: String,
    surnames: String,
    birth_date: String,
    /// The sealed cursor of the next page of a name search.
    pagina: String,
}

/// The CURP check as a small HTML fragment (also the no-JS status under the field).
pub(crate) fn curp_status_html(tr: Tr, input: &str) -> String {
    if input.trim().is_empty() {
        return String::new();
    }
    let check = data::check_curp(input);
    if check.valid {
        let state = check.birth_state_name.unwrap_or_default();
        let birth = check
            .birth_date
            .as_deref()
            .map(dates::display_text)
            .unwrap_or_default();
        let sex = check.gender.map(|g| tr.gender(g)).unwrap_or_default();
        format!(
            "<span class=\"ok-text\">✔ {} · {} · {}</span>",
            forms::escape_html(&birth),
            forms::escape_html(sex),
            forms::escape_html(state)
        )
    } else {
        let problems: Vec<String> = check
            .errors
            .iter()
            .map(|p| forms::escape_html(tr.pick(&p.message_es, &p.message_en)))
            .collect();
        if problems.is_empty() {
            String::new()
        } else {
            format!("<span class=\"error\">{}</span>", problems.join(" · "))
        }
    }
}

/// # `GET /ui/curp?curp=…` (fragment for the as-you-type check)
pub async fn curp_fragment(ctx: Ctx, Query(query): Query<FindQuery>) -> Response {
    if ctx.session.is_none() {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        curp_status_html(ctx.tr, &query.curp),
    )
        .into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Cie10Query {
    q: String,
}

/// # `GET /ui/cie10?q=…` (fragment: the picker's choices as the user types)
///
/// The same radio choices the form shows after a search without JavaScript.
pub async fn cie10_fragment(ctx: Ctx, Query(query): Query<Cie10Query>) -> Response {
    if ctx.session.is_none() {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let choices = crate::diagnoses::choices(&query.q);
    let mut html = String::new();
    for choice in &choices {
        let label = match choice.synonym {
            Some(term) => format!("{} → ", forms::escape_html(term)),
            None => String::new(),
        };
        html.push_str(&format!(
            "<label class=\"choice\"><input type=\"radio\" name=\"dx_code\" value=\"{code}\"> {label}<span class=\"mono\">{code}</span> {description}</label>",
            code = forms::escape_html(choice.code),
            description = forms::escape_html(choice.description),
        ));
    }
    if choices.is_empty() && !query.q.trim().is_empty() {
        html.push_str(&format!("<p>{}</p>", ctx.tr.s("cie.none")));
    }
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response()
}

/// The birth dates tried for one typed: itself, one day either side, and day and month
/// swapped (when that is a date too), each with how it differs.
fn date_variants(day: i64) -> Vec<(String, Option<&'static str>)> {
    let mut out = vec![
        (dates::iso(day), None),
        (dates::iso(day - 1), Some("find.date.one_day_off")),
        (dates::iso(day + 1), Some("find.date.one_day_off")),
    ];
    let (year, month, dom) = dates::civil_from_days(day);
    if dom <= 12 && dom != month {
        let swapped = dates::days_from_civil(year, dom, month);
        if dates::civil_from_days(swapped) == (year, dom, month) {
            out.push((dates::iso(swapped), Some("find.date.swapped")));
        }
    }
    out
}

/// Patients with these surnames (and given names, when typed) born on the day or a
/// forgiving variant of it; and, with a given name, the MPI's fuzzy match.
fn search_with_date(
    db: &data::Db,
    given: &str,
    surnames: &str,
    day: i64,
) -> data::Result<Vec<Found>> {
    let mut found: Vec<Found> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut add = |found: &mut Vec<Found>, item: Found| {
        let id = item.patient["id"].as_str().unwrap_or_default().to_string();
        if seen.insert(id) {
            found.push(item);
        }
    };
    if !given.is_empty() {
        // Names misspelt by a clerk: the MPI's match (exact date).
        let form = RegisterForm {
            given: given.to_string(),
            first_surname: surnames.to_string(),
            birth_date: dates::iso(day),
            ..RegisterForm::default()
        };
        let mut patient = form.patient(None);
        if let Some(object) = patient.as_object_mut() {
            // What was typed is a search, not a registration: no "CURP pending" flag, and
            // an unknown sex must not count against candidates.
            object.remove("extension");
            object.remove("gender");
            object.remove("active");
        }
        match data::match_patients(db, to_json(&patient)) {
            Ok(candidates) => {
                for candidate in candidates {
                    add(
                        &mut found,
                        Found {
                            patient: candidate.patient,
                            grade: Some(candidate.grade),
                            date_note: None,
                        },
                    );
                }
            }
            Err(ehr::Error::Unprocessable(_) | ehr::Error::BadRequest(_)) => {}
            Err(error) => return Err(error),
        }
    }
    for (date, note) in date_variants(day) {
        let mut params = vec![("family", surnames.to_string()), ("birthdate", date)];
        if !given.is_empty() {
            params.push(("given", given.to_string()));
        }
        let mut page = data::search_patients(db, &params, None)?;
        if page.patients.is_empty() && !given.is_empty() {
            // A given name typed differently: the surnames and the date decide.
            params.pop();
            page = data::search_patients(db, &params, None)?;
        }
        for patient in page.patients {
            add(
                &mut found,
                Found {
                    patient,
                    grade: None,
                    date_note: note,
                },
            );
        }
    }
    Ok(found)
}

/// # `GET /ui/buscar`
pub async fn find(State(app): AppState, ctx: Ctx, Query(query): Query<FindQuery>) -> Response {
    if ctx.session.is_none() {
        return to_login(&ctx);
    }
    let mut errors = Vec::new();
    let mut searched = false;
    let mut rows = Vec::new();
    let mut next_href = None;
    let mut paged = false;
    let curp = query.curp.trim().to_string();
    let given = query.given.split_whitespace().collect::<Vec<_>>().join(" ");
    let surnames = query
        .surnames
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if !curp.is_empty() {
        searched = true;
        let check = data::check_curp(&curp);
        if check.valid {
            let normalized = check.normalized.clone();
            let found = blocking(&app, &ctx, move |db| {
                let patients = data::find_by_curp(db, &normalized)?;
                patient_rows(db, patients.into_iter().map(Found::plain).collect())
            })
            .await;
            match found {
                Ok(found) => rows = found,
                Err(error) => return ehr_error(&app, &ctx, &error),
            }
        } else {
            errors.push(ctx.tr.s("find.curp_invalid").to_string());
            errors.extend(
                check
                    .errors
                    .iter()
                    .map(|p| ctx.tr.pick(&p.message_es, &p.message_en).to_string()),
            );
        }
    } else if !surnames.is_empty() || !given.is_empty() {
        searched = true;
        let day = match forms::check_birth_date(&query.birth_date, ctx.today()) {
            Ok(day) => day,
            Err((es, en)) => {
                errors.push(ctx.tr.pick(&es, &en).to_string());
                None
            }
        };
        if given.chars().count() > NAME_QUERY_CHARS_MAX
            || surnames.chars().count() > NAME_QUERY_CHARS_MAX
        {
            errors.push(ctx.tr.s("find.too_long").to_string());
        }
        if surnames.is_empty() {
            errors.push(ctx.tr.s("find.need_surname").to_string());
        }
        if errors.is_empty() {
            let (g, s) = (given.clone(), surnames.clone());
            let cursor = (!query.pagina.is_empty()).then(|| query.pagina.clone());
            let found = blocking(&app, &ctx, move |db| match day {
                Some(day) => Ok((patient_rows(db, search_with_date(db, &g, &s, day)?)?, None)),
                None => {
                    // A name alone: every match, a page at a time.
                    let mut params = vec![("family", s.clone())];
                    if !g.is_empty() {
                        params.push(("given", g.clone()));
                    }
                    let page = data::search_patients(db, &params, cursor.as_deref())?;
                    let rows =
                        patient_rows(db, page.patients.into_iter().map(Found::plain).collect())?;
                    Ok((rows, page.next))
                }
            })
            .await;
            match found {
                Ok((found, next)) => {
                    rows = found;
                    paged = day.is_none();
                    next_href = next.map(|cursor| {
                        let mut link = form_urlencoded::Serializer::new(String::new());
                        link.append_pair("given", &given)
                            .append_pair("surnames", &surnames)
                            .append_pair("pagina", &cursor);
                        format!("/ui/buscar?{}", link.finish())
                    });
                }
                Err(ehr::Error::Unprocessable(_) | ehr::Error::BadRequest(_)) => {
                    errors.push(ctx.tr.s("find.need_name").to_string());
                }
                Err(error) => return ehr_error(&app, &ctx, &error),
            }
        }
    }
    let mut register = form_urlencoded::Serializer::new(String::new());
    register
        .append_pair("given", &given)
        .append_pair("first_surname", &surnames)
        .append_pair("birth_date", query.birth_date.trim())
        .append_pair("curp", &curp);
    render(
        &FindPage {
            layout: ctx.layout(&app, "find.title"),
            curp_status: curp_status_html(ctx.tr, &curp),
            curp,
            given,
            surnames,
            birth_date: query.birth_date,
            errors,
            searched,
            rows,
            register_href: format!("/ui/pacientes/nuevo?{}", register.finish()),
            next_href,
            paged,
        },
        StatusCode::OK,
    )
}
