//! The nurse's screens (physicians use them too): vital signs on their own, and a vaccine
//! given. Each writes only what a nurse may write (vital-sign Observations, Immunizations),
//! so the role that opens them can save them.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::consult::{VitalInput, vital_inputs};
use super::{
    AppState, Ctx, Layout, OpenRecord, PatientView, blocking, not_offered, open_record, render,
    see_other, to_json,
};
use crate::vitals::{self, VitalsForm};
use crate::{data, dates, forms, messages, schedule};

#[derive(Template)]
#[template(path = "vitals.html")]
struct VitalsPage {
    layout: Layout,
    patient: PatientView,
    vitals: Vec<VitalInput>,
    bmi: Option<String>,
    errors: Vec<String>,
}

fn age_days(view: &PatientView, today: i64) -> Option<u32> {
    view.header
        .birth_day
        .and_then(|b| u32::try_from(today - b).ok())
}

/// # `GET /ui/pacientes/{id}/signos-vitales`
pub async fn vitals_form(State(app): AppState, ctx: Ctx, Path(id): Path<String>) -> Response {
    let open = match open_record(&app, &ctx, &id).await {
        Ok(open) => open,
        Err(response) => return response,
    };
    if !open.view.abilities.record_vitals {
        return not_offered(&app, &ctx, &id, "vitals.not_offered");
    }
    let age = age_days(&open.view, ctx.today());
    render(
        &VitalsPage {
            layout: ctx.layout(&app, "vitals.title"),
            vitals: vital_inputs(&VitalsForm::default(), None, age, ctx.tr),
            patient: open.view,
            bmi: None,
            errors: Vec::new(),
        },
        StatusCode::OK,
    )
}

/// # `POST /ui/pacientes/{id}/signos-vitales`
///
/// Vital-sign Observations without an Encounter (a nurse does not open consultations): each
/// checked like the consultation's, saved together.
pub async fn vitals(
    State(app): AppState,
    ctx: Ctx,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let OpenRecord { session, view, .. } = match open_record(&app, &ctx, &id).await {
        Ok(open) => open,
        Err(response) => return response,
    };
    if !view.abilities.record_vitals {
        return not_offered(&app, &ctx, &id, "vitals.not_offered");
    }
    let pairs: Vec<(String, String)> = form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let form = VitalsForm::from_pairs(&pairs);
    let age = age_days(&view, ctx.today());
    let check = vitals::check(&form, age);
    let saving = pairs.iter().any(|(k, v)| k == "action" && v == "save");
    let mut page = VitalsPage {
        layout: ctx.layout(&app, "vitals.title"),
        vitals: vital_inputs(&form, Some(&check), age, ctx.tr),
        bmi: check
            .bmi
            .map(|b| vitals::show(clinical::vitals::Measure::Bmi, b)),
        patient: view,
        errors: Vec::new(),
    };
    if !saving {
        return render(&page, StatusCode::OK);
    }
    if check.blocks() {
        page.errors.push(ctx.tr.s("vitals.fix").to_string());
        return render(&page, StatusCode::UNPROCESSABLE_ENTITY);
    }
    if check.is_empty() {
        page.errors.push(ctx.tr.s("vitals.empty").to_string());
        return render(&page, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let now = dates::instant_mexico(ctx.now_ms);
    let extra = json!({
        "subject": {"reference": format!("Patient/{id}")},
        "effectiveDateTime": now,
        "performer": [forms::author(&session)],
    });
    let entries: Vec<Value> = vitals::observations(&check, &extra)
        .into_iter()
        .enumerate()
        .map(|(n, observation)| {
            json!({
                "fullUrl": format!("urn:uuid:00000000-0000-4000-8000-{n:012}"),
                "resource": observation,
                "request": {"method": "POST", "url": "Observation"}
            })
        })
        .collect();
    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": entries});
    match blocking(&app, &ctx, move |db| {
        data::transaction(db, &to_json(&bundle))
    })
    .await
    {
        Ok(_) => see_other(&format!("/ui/pacientes/{id}?ok=vitals.saved#latest-vitals")),
        Err(error) => {
            page.errors.extend(messages::general(ctx.tr, &error));
            render(&page, super::error_status(&error))
        }
    }
}

/// A vaccine the screen offers: CVX code and names.
pub struct VaccineChoice {
    pub cvx: &'static str,
    pub es: &'static str,
    pub en: &'static str,
}

/// Vaccines given to adolescents and adults in Mexican primary care (the childhood schedule's
/// are listed from `schedule.rs`).
const ADULT_VACCINES: &[VaccineChoice] = &[
    VaccineChoice {
        cvx: "141",
        es: "Influenza estacional",
        en: "Seasonal influenza",
    },
    VaccineChoice {
        cvx: "09",
        es: "Td (tétanos y difteria, adulto)",
        en: "Td (tetanus and diphtheria, adult)",
    },
    VaccineChoice {
        cvx: "33",
        es: "Neumocócica polisacárida 23-valente",
        en: "Pneumococcal polysaccharide (PPSV23)",
    },
    VaccineChoice {
        cvx: "165",
        es: "Virus del papiloma humano",
        en: "Human papillomavirus",
    },
    VaccineChoice {
        cvx: "43",
        es: "Hepatitis B (adulto)",
        en: "Hepatitis B (adult)",
    },
    VaccineChoice {
        cvx: "213",
        es: "COVID-19",
        en: "COVID-19",
    },
];

/// Every vaccine offered: the childhood schedule's (once each), then the adults'.
fn vaccines() -> Vec<VaccineChoice> {
    let mut out: Vec<VaccineChoice> = Vec::new();
    for dose in schedule::CHILD_SCHEDULE {
        if !out.iter().any(|v| v.cvx == dose.cvx) {
            out.push(VaccineChoice {
                cvx: dose.cvx,
                es: dose.vaccine_es,
                en: dose.vaccine_en,
            });
        }
    }
    for vaccine in ADULT_VACCINES {
        if !out.iter().any(|v| v.cvx == vaccine.cvx) {
            out.push(VaccineChoice {
                cvx: vaccine.cvx,
                es: vaccine.es,
                en: vaccine.en,
            });
        }
    }
    out
}

/// Application sites (HL7 v3 ActSite) and routes (v3 RouteOfAdministration) offered.
const SITES: &[(&str, &str, &str)] = &[
    ("LA", "Brazo izquierdo", "Left arm"),
    ("RA", "Brazo derecho", "Right arm"),
    ("LT", "Muslo izquierdo", "Left thigh"),
    ("RT", "Muslo derecho", "Right thigh"),
    ("LD", "Deltoides izquierdo", "Left deltoid"),
    ("RD", "Deltoides derecho", "Right deltoid"),
];
const ROUTES: &[(&str, &str, &str)] = &[
    ("IM", "Intramuscular", "Intramuscular"),
    ("SC", "Subcutánea", "Subcutaneous"),
    ("IDINJ", "Intradérmica", "Intradermal"),
    ("PO", "Oral", "Oral"),
];

/// Longest lot number accepted.
pub const LOT_CHARS_MAX: usize = 40;

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct VaccineForm {
    vaccine: String,
    dose_number: String,
    given_on: String,
    lot: String,
    site: String,
    route: String,
}

#[derive(Template)]
#[template(path = "vaccine.html")]
struct VaccinePage {
    layout: Layout,
    patient: PatientView,
    vaccines: Vec<VaccineChoice>,
    sites: &'static [(&'static str, &'static str, &'static str)],
    routes: &'static [(&'static str, &'static str, &'static str)],
    form: VaccineForm,
    today: String,
    errors: Vec<String>,
}

fn vaccine_page(ctx: &Ctx, app: &crate::App, view: PatientView, form: VaccineForm) -> VaccinePage {
    VaccinePage {
        layout: ctx.layout(app, "vaccine.title"),
        patient: view,
        vaccines: vaccines(),
        sites: SITES,
        routes: ROUTES,
        form,
        today: dates::iso(ctx.today()),
        errors: Vec::new(),
    }
}

/// # `GET /ui/pacientes/{id}/vacunas`
pub async fn vaccine_form(State(app): AppState, ctx: Ctx, Path(id): Path<String>) -> Response {
    let open = match open_record(&app, &ctx, &id).await {
        Ok(open) => open,
        Err(response) => return response,
    };
    if !open.view.abilities.immunize {
        return not_offered(&app, &ctx, &id, "vaccine.not_offered");
    }
    let form = VaccineForm {
        given_on: dates::iso(ctx.today()),
        dose_number: "1".into(),
        route: "IM".into(),
        ..VaccineForm::default()
    };
    render(&vaccine_page(&ctx, &app, open.view, form), StatusCode::OK)
}

/// # `POST /ui/pacientes/{id}/vacunas`
pub async fn vaccine(
    State(app): AppState,
    ctx: Ctx,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<VaccineForm>,
) -> Response {
    let OpenRecord { session, view, .. } = match open_record(&app, &ctx, &id).await {
        Ok(open) => open,
        Err(response) => return response,
    };
    if !view.abilities.immunize {
        return not_offered(&app, &ctx, &id, "vaccine.not_offered");
    }
    let birth = view.header.birth_day;
    let mut page = vaccine_page(&ctx, &app, view, form.clone());
    let choice = page.vaccines.iter().find(|v| v.cvx == form.vaccine);
    if choice.is_none() {
        page.errors.push(ctx.tr.s("vaccine.pick").to_string());
    }
    let given = match forms::check_birth_date(&form.given_on, ctx.today()) {
        Ok(Some(day)) if birth.is_none_or(|b| day >= b) => Some(day),
        Ok(_) | Err(_) => {
            page.errors.push(ctx.tr.s("vaccine.date").to_string());
            None
        }
    };
    let dose: Option<u32> = form
        .dose_number
        .trim()
        .parse()
        .ok()
        .filter(|n| (1..=10).contains(n));
    if dose.is_none() {
        page.errors.push(ctx.tr.s("vaccine.dose").to_string());
    }
    let lot = form.lot.trim();
    if lot.is_empty() || lot.chars().count() > LOT_CHARS_MAX {
        page.errors.push(ctx.tr.s("vaccine.lot").to_string());
    }
    let site = SITES.iter().find(|s| s.0 == form.site);
    let route = ROUTES.iter().find(|r| r.0 == form.route);
    let (Some(choice), Some(given), Some(dose), true) =
        (choice, given, dose, page.errors.is_empty())
    else {
        return render(&page, StatusCode::UNPROCESSABLE_ENTITY);
    };
    let mut immunization = json!({
        "resourceType": "Immunization",
        "status": "completed",
        "vaccineCode": {
            "coding": [{"system": mexico::systems::CVX, "code": choice.cvx, "display": choice.en}],
            "text": choice.es
        },
        "patient": {"reference": format!("Patient/{id}")},
        "occurrenceDateTime": dates::iso(given),
        "recorded": dates::instant_mexico(ctx.now_ms),
        "primarySource": true,
        "lotNumber": lot,
        "performer": [{"actor": forms::author(&session)}],
        "protocolApplied": [{"doseNumberPositiveInt": dose}]
    });
    if let Some((code, es, en)) = site {
        immunization["site"] = json!({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActSite", "code": code, "display": en}], "text": es});
    }
    if let Some((code, es, en)) = route {
        immunization["route"] = json!({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration", "code": code, "display": en}], "text": es});
    }
    if let Some(organization) = &session.organization
        && let Some(performers) = immunization["performer"].as_array_mut()
    {
        performers
            .push(json!({"actor": {"reference": organization, "display": session.facility_name}}));
    }
    match blocking(&app, &ctx, move |db| {
        data::create(db, "Immunization", to_json(&immunization))
    })
    .await
    {
        Ok(_) => see_other(&format!("/ui/pacientes/{id}?ok=vaccine.saved")),
        Err(error) => {
            page.errors.extend(messages::general(ctx.tr, &error));
            render(&page, super::error_status(&error))
        }
    }
}
