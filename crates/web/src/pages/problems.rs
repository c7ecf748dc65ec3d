//! The problems screen: active problems (one line per CIE-10 code, whatever clinic recorded
//! them), resolving one, marking it acute or chronic, and the resolved ones.
//!
//! Why by code: a problem is often recorded at several visits (a diagnosis per encounter); a
//! resolution is about the problem, so every active Condition of the code is resolved in one
//! transaction, each keeping its history.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    AppState, Ctx, Layout, OpenRecord, PatientView, blocking, ehr_error, not_offered, open_record,
    render, see_other, to_json,
};
use crate::chart::{self, COURSE_SYSTEM};
use crate::{data, dates, messages};

#[derive(Template)]
#[template(path = "problems.html")]
struct ProblemsPage {
    layout: Layout,
    patient: PatientView,
    problems: Vec<chart::Problem>,
    past: Vec<chart::PastProblem>,
    errors: Vec<String>,
}

/// Active problems and past ones, from the patient's Conditions.
fn lists(
    patient_id: &str,
    conditions: &[Value],
    today: i64,
) -> (Vec<chart::Problem>, Vec<chart::PastProblem>) {
    let built = chart::build(patient_id, conditions, &Default::default(), today);
    (built.problems, built.past_problems)
}

/// # `GET /ui/pacientes/{id}/problemas`
pub async fn problems_page(State(app): AppState, ctx: Ctx, Path(id): Path<String>) -> Response {
    let open = match open_record(&app, &ctx, &id).await {
        Ok(open) => open,
        Err(response) => return response,
    };
    let pid = id.clone();
    match blocking(&app, &ctx, move |db| data::conditions(db, &pid)).await {
        Ok(conditions) => {
            let (problems, past) = lists(&id, &conditions, ctx.today());
            render(
                &ProblemsPage {
                    layout: ctx.layout(&app, "problems"),
                    patient: open.view,
                    problems,
                    past,
                    errors: Vec::new(),
                },
                StatusCode::OK,
            )
        }
        Err(error) => ehr_error(&app, &ctx, &error),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ProblemForm {
    /// The problem's CIE-10 code (or its text, when it has none).
    code: String,
    /// `resolve`, `chronic` or `acute`.
    action: String,
}

/// A Condition changed by an action, or `None` when the action changes nothing.
fn changed(condition: &Value, action: &str, now: &str) -> Option<Value> {
    let mut out = condition.clone();
    if let Some(object) = out.as_object_mut() {
        object.remove("meta");
    }
    match action {
        "resolve" => {
            out["clinicalStatus"] = json!({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "resolved"}]});
            out["abatementDateTime"] = json!(now);
        }
        "chronic" | "acute" => {
            let (code, display) = if action == "chronic" {
                ("cronico", "Crónico")
            } else {
                ("agudo", "Agudo")
            };
            let mut categories: Vec<Value> = out["category"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|c| {
                    !c["coding"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|coding| coding["system"] == COURSE_SYSTEM)
                })
                .collect();
            categories.push(json!({"coding": [{"system": COURSE_SYSTEM, "code": code, "display": display}], "text": display}));
            out["category"] = Value::Array(categories);
        }
        _ => return None,
    }
    (out != *condition).then_some(out)
}

/// # `POST /ui/pacientes/{id}/problemas`
pub async fn problems(
    State(app): AppState,
    ctx: Ctx,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<ProblemForm>,
) -> Response {
    let OpenRecord { view, .. } = match open_record(&app, &ctx, &id).await {
        Ok(open) => open,
        Err(response) => return response,
    };
    if !view.abilities.edit_problems {
        return not_offered(&app, &ctx, &id, "problems.not_offered");
    }
    let pid = id.clone();
    let conditions = match blocking(&app, &ctx, move |db| data::conditions(db, &pid)).await {
        Ok(found) => found,
        Err(error) => return ehr_error(&app, &ctx, &error),
    };
    let (problems, past) = lists(&id, &conditions, ctx.today());
    let mut page = ProblemsPage {
        layout: ctx.layout(&app, "problems"),
        patient: view,
        problems,
        past,
        errors: Vec::new(),
    };
    let Some(problem) = page
        .problems
        .iter()
        .find(|p| p.code == form.code || (p.code.is_empty() && p.display == form.code))
    else {
        page.errors.push(ctx.tr.s("error.not_found").to_string());
        return render(&page, StatusCode::NOT_FOUND);
    };
    let now = dates::instant_mexico(ctx.now_ms);
    let entries: Vec<Value> = conditions
        .iter()
        .filter(|c| {
            c["id"]
                .as_str()
                .is_some_and(|id| problem.condition_ids.iter().any(|p| p == id))
        })
        .filter_map(|c| {
            let id = c["id"].as_str()?;
            let new = changed(c, &form.action, &now)?;
            let mut request = json!({"method": "PUT", "url": format!("Condition/{id}")});
            if let Some(version) = data::version_of(c) {
                request["ifMatch"] = json!(format!("W/\"{version}\""));
            }
            Some(json!({"fullUrl": format!("Condition/{id}"), "resource": new, "request": request}))
        })
        .collect();
    if entries.is_empty() {
        return see_other(&format!("/ui/pacientes/{id}/problemas"));
    }
    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": entries});
    match blocking(&app, &ctx, move |db| {
        data::transaction(db, &to_json(&bundle))
    })
    .await
    {
        Ok(_) => see_other(&format!("/ui/pacientes/{id}/problemas?ok=problems.saved")),
        Err(error) => {
            page.errors.extend(messages::general(ctx.tr, &error));
            render(&page, super::error_status(&error))
        }
    }
}
