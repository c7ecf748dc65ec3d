//! Patient privacy consents: a typed view of R4 `Consent` and the pure question "do this
//! patient's consents let this person see a resource with these labels?".
//!
//! # What is read from a Consent
//! Only active (`status = active`) consents with scope `patient-privacy` count. From each
//! provision (the root and nested ones): `type` (deny/permit), `period`, `actor`, `action`,
//! `securityLabel`, `class` (resource types) and nested `provision`s.
//!
//! Actors are recognised by these Expediente conventions:
//! * a facility: `reference.identifier` with system CLUES (`mexico::systems::CLUES`), or a literal
//!   `Organization/{id}` that the caller maps to a CLUES with [`Consent::resolve_organizations`];
//! * a role: `reference.identifier` with system [`crate::systems::ROLE`] and the role identifier as
//!   value (or a coding of that system in `actor.role`);
//! * a practitioner: `reference.reference = "Practitioner/{id}"`;
//! * `Patient`, `RelatedPerson` and `Device` references are never the requester (no account acts
//!   as one on another person's record); any other reference cannot be evaluated.
//!
//! # Evaluation
//! A provision *matches* a request when every criterion it states is met (period contains now,
//! some actor is the requester, the action is `access`/`use`/`disclose`, some label covers a label
//! of the resource — see [`crate::label::covers`] —, the resource type is in `class`). A matching
//! provision's nested provisions are exceptions: a matching nested `deny` wins over a matching
//! nested `permit`, and either wins over the parent's own type. A consent whose root does not match
//! says nothing. Across consents, one deny is enough (deny wins): two consents of the same patient
//! that disagree are resolved towards privacy.
//!
//! Absence of any applicable consent permits: consent *restricts* what the role matrix and the
//! care-relationship rule already allow; it never widens it.
//!
//! # Fail closed
//! A criterion this module cannot evaluate (an unresolved Organization reference, an unparseable
//! period, `data`, `dataPeriod`, `purpose`, `code`, an actor of unknown kind) makes a `deny`
//! provision match and a `permit` provision not match. A malformed restriction therefore hides
//! data rather than exposing it; break-glass remains available in an emergency.
//!
//! Consent applies to reads and searches by people other than the patient. It does not apply to
//! the patient, to [`crate::role::Role::System`] integrations (node sync must replicate the whole
//! record; their scopes bound them), to writes, or under break-glass (the emergency exception of
//! the data-protection law).

#[cfg(test)]
mod tests;

use crate::label::{Coding, codings_of_list, covers};
use crate::role::{Principal, Role};
use crate::systems::{CONSENT_ACTION, CONSENT_SCOPE, RESOURCE_TYPES, ROLE};

/// `deny` or `permit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProvisionType {
    /// Access matching the provision is refused.
    Deny,
    /// Access matching the provision is allowed (used as an exception under a deny).
    Permit,
}

/// Who a provision is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    /// A facility, by CLUES.
    Facility(String),
    /// Everyone with a role.
    Role(Role),
    /// One practitioner, by `Practitioner` id.
    Practitioner(String),
    /// A reference that cannot be evaluated: an `Organization/123` not yet mapped to a CLUES, a
    /// `CareTeam` or `PractitionerRole`, a contained or missing reference. Fails closed.
    Unresolved(String),
    /// An actor that is known never to be a requester (a `Patient`, `RelatedPerson` or `Device`
    /// reference, or a role code that no account has).
    Other,
}

/// One provision, with its nested exceptions.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Provision {
    /// `deny` or `permit`; `None` when absent (the provision only groups nested ones).
    pub kind: Option<ProvisionType>,
    /// `[start_ms, end_ms)` of `period`; an open side is `None`.
    pub period: Option<(Option<i64>, Option<i64>)>,
    /// `actor` entries.
    pub actors: Vec<Actor>,
    /// `action` codes (any system; compared by code).
    pub actions: Vec<String>,
    /// `securityLabel` codings.
    pub security_labels: Vec<Coding>,
    /// `class` codes that are resource types.
    pub classes: Vec<String>,
    /// Elements present that cannot be evaluated (see the module docs), by name.
    pub unevaluable: Vec<String>,
    /// Nested provisions.
    pub provisions: Vec<Provision>,
}

/// The parts of an R4 `Consent` that access control uses.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Consent {
    /// `id`, for logs.
    pub id: Option<String>,
    /// The patient id from `patient.reference` (`Patient/{id}`).
    pub patient_id: Option<String>,
    /// `status = active`.
    pub active: bool,
    /// `scope` has `patient-privacy`.
    pub privacy_scope: bool,
    /// The root provision.
    pub provision: Option<Provision>,
}

/// Why a text is not a Consent at all. Content problems never fail the parse; they make the
/// provision fail closed instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConsentError {
    /// Not JSON.
    #[error("the consent is not valid JSON")]
    Json,
    /// JSON, but `resourceType` is not `Consent`.
    #[error("the resource is not a Consent")]
    NotConsent,
}

impl ConsentError {
    /// The message in Spanish.
    pub fn message_es(&self) -> &'static str {
        match self {
            ConsentError::Json => "el consentimiento no es JSON válido",
            ConsentError::NotConsent => "el recurso no es un Consent",
        }
    }
}

impl Consent {
    /// Parses JSON text.
    pub fn parse(text: &str) -> Result<Consent, ConsentError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|_| ConsentError::Json)?;
        Consent::from_value(&value)
    }

    /// Reads a parsed resource.
    pub fn from_value(value: &serde_json::Value) -> Result<Consent, ConsentError> {
        if value
            .get("resourceType")
            .and_then(serde_json::Value::as_str)
            != Some("Consent")
        {
            return Err(ConsentError::NotConsent);
        }
        let str_at = |v: &serde_json::Value, key: &str| -> Option<String> {
            v.get(key)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        };
        let patient_id = value
            .get("patient")
            .and_then(|patient| str_at(patient, "reference"))
            .and_then(|reference| reference.strip_prefix("Patient/").map(str::to_owned));
        let privacy_scope = value
            .get("scope")
            .and_then(|scope| scope.get("coding"))
            .map(codings_of_list)
            .unwrap_or_default()
            .iter()
            .any(|coding| coding.code == "patient-privacy" && coding.system == CONSENT_SCOPE);
        Ok(Consent {
            id: str_at(value, "id"),
            patient_id,
            active: str_at(value, "status").as_deref() == Some("active"),
            privacy_scope,
            provision: value.get("provision").map(|p| parse_provision(p, 0)),
        })
    }

    /// Maps literal `Organization/{id}` actor references to CLUES with `clues_of` (the caller
    /// reads the Organization's CLUES identifier from the store). References it cannot map stay
    /// unresolved and fail closed.
    pub fn resolve_organizations(&mut self, clues_of: &dyn Fn(&str) -> Option<String>) {
        fn walk(provision: &mut Provision, clues_of: &dyn Fn(&str) -> Option<String>) {
            for actor in &mut provision.actors {
                if let Actor::Unresolved(reference) = actor
                    && let Some(id) = reference.strip_prefix("Organization/")
                    && let Some(clues) = clues_of(id)
                {
                    *actor = Actor::Facility(clues);
                }
            }
            for nested in &mut provision.provisions {
                walk(nested, clues_of);
            }
        }
        if let Some(provision) = &mut self.provision {
            walk(provision, clues_of);
        }
    }

    /// Whether this consent governs access to `patient_id`'s record.
    fn applies_to(&self, patient_id: &str) -> bool {
        self.active && self.privacy_scope && self.patient_id.as_deref() == Some(patient_id)
    }
}

/// Nesting deeper than this is not evaluated further (and fails closed): real consents have
/// two or three levels, and the bound keeps a hostile resource from exhausting the stack.
const PROVISION_DEPTH_MAX: usize = 16;

fn parse_provision(value: &serde_json::Value, depth: usize) -> Provision {
    let mut provision = Provision {
        kind: match value.get("type").and_then(serde_json::Value::as_str) {
            Some("deny") => Some(ProvisionType::Deny),
            Some("permit") => Some(ProvisionType::Permit),
            _ => None,
        },
        ..Provision::default()
    };
    if let Some(period) = value.get("period") {
        let bound = |key: &str, take_end: bool| -> Result<Option<i64>, ()> {
            match period.get(key) {
                None => Ok(None),
                Some(text) => text
                    .as_str()
                    .and_then(crate::instant::parse_fhir_datetime)
                    .map(|(start, end)| Some(if take_end { end } else { start }))
                    .ok_or(()),
            }
        };
        match (bound("start", false), bound("end", true)) {
            (Ok(start), Ok(end)) => provision.period = Some((start, end)),
            _ => provision.unevaluable.push("period".into()),
        }
    }
    for actor in value
        .get("actor")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
    {
        provision.actors.push(parse_actor(actor));
    }
    for action in value
        .get("action")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
    {
        for coding in codings_of_list(action.get("coding").unwrap_or(&serde_json::Value::Null)) {
            if coding.system.is_empty() || coding.system == CONSENT_ACTION {
                provision.actions.push(coding.code);
            } else {
                provision.unevaluable.push("action".into());
            }
        }
    }
    if let Some(labels) = value.get("securityLabel") {
        provision.security_labels = codings_of_list(labels);
    }
    for class in codings_of_list(value.get("class").unwrap_or(&serde_json::Value::Null)) {
        if class.system == RESOURCE_TYPES {
            provision.classes.push(class.code);
        } else {
            provision.unevaluable.push("class".into());
        }
    }
    for name in ["code", "data", "dataPeriod", "purpose"] {
        if value.get(name).is_some() {
            provision.unevaluable.push(name.into());
        }
    }
    if let Some(nested) = value.get("provision").and_then(serde_json::Value::as_array) {
        if depth + 1 >= PROVISION_DEPTH_MAX {
            provision.unevaluable.push("provision".into());
        } else {
            provision.provisions = nested
                .iter()
                .map(|child| parse_provision(child, depth + 1))
                .collect();
        }
    }
    provision
}

fn parse_actor(actor: &serde_json::Value) -> Actor {
    let reference = actor.get("reference");
    let identifier = reference.and_then(|r| r.get("identifier"));
    let id_system = identifier
        .and_then(|i| i.get("system"))
        .and_then(serde_json::Value::as_str);
    let id_value = identifier
        .and_then(|i| i.get("value"))
        .and_then(serde_json::Value::as_str);
    match (id_system, id_value) {
        (Some(system), Some(value)) if system == mexico::systems::CLUES => {
            return Actor::Facility(value.to_owned());
        }
        (Some(system), Some(value)) if system == ROLE => {
            return Role::parse(value).map_or(Actor::Other, Actor::Role);
        }
        _ => {}
    }
    let role_coding = actor
        .get("role")
        .and_then(|role| role.get("coding"))
        .map(codings_of_list)
        .unwrap_or_default()
        .into_iter()
        .find(|coding| coding.system == ROLE);
    if let Some(coding) = role_coding {
        return Role::parse(&coding.code).map_or(Actor::Other, Actor::Role);
    }
    match reference
        .and_then(|r| r.get("reference"))
        .and_then(serde_json::Value::as_str)
    {
        Some(literal) => match literal.split_once('/') {
            Some(("Practitioner", id)) if !id.is_empty() => Actor::Practitioner(id.to_owned()),
            // No account is a Patient, RelatedPerson or Device acting on someone else's record,
            // so such an actor is known never to be the requester.
            Some(("Patient" | "RelatedPerson" | "Device", id)) if !id.is_empty() => Actor::Other,
            _ => Actor::Unresolved(literal.to_owned()),
        },
        None => Actor::Unresolved(String::new()),
    }
}

/// What is being accessed, for consent evaluation.
#[derive(Clone, Copy, Debug)]
pub struct ConsentTarget<'a> {
    /// The patient whose record holds the resource.
    pub patient_id: &'a str,
    /// The resource type.
    pub resource_type: &'a str,
    /// The resource's `meta.security` labels.
    pub security_labels: &'a [Coding],
}

/// Whether the patient's consents let `principal` read the target at `now_ms`. Consents of other
/// patients, inactive ones and non-privacy ones are ignored, so the caller may pass every consent
/// it loaded. The patient themself and `system` principals are never restricted.
pub fn consent_allows(
    consents: &[Consent],
    principal: &Principal,
    target: &ConsentTarget<'_>,
    now_ms: i64,
) -> bool {
    if principal.role == Role::System
        || (principal.role == Role::Patient
            && principal.patient_id.as_deref() == Some(target.patient_id))
    {
        return true;
    }
    let request = Request {
        principal,
        target,
        now_ms,
    };
    !consents
        .iter()
        .filter(|consent| consent.applies_to(target.patient_id))
        .filter_map(|consent| consent.provision.as_ref())
        .any(|provision| evaluate(provision, &request) == Some(ProvisionType::Deny))
}

struct Request<'a> {
    principal: &'a Principal,
    target: &'a ConsentTarget<'a>,
    now_ms: i64,
}

/// The provision's verdict for the request, or `None` when it does not match.
fn evaluate(provision: &Provision, request: &Request<'_>) -> Option<ProvisionType> {
    let kind = provision.kind;
    if !matches(provision, kind, request) {
        return None;
    }
    let verdicts: Vec<ProvisionType> = provision
        .provisions
        .iter()
        .filter_map(|nested| evaluate(nested, request))
        .collect();
    if verdicts.contains(&ProvisionType::Deny) {
        Some(ProvisionType::Deny)
    } else if verdicts.contains(&ProvisionType::Permit) {
        Some(ProvisionType::Permit)
    } else {
        kind
    }
}

/// Whether every criterion of the provision holds. `kind` decides how unevaluable criteria
/// count: they match for a deny (fail closed) and not for a permit.
fn matches(provision: &Provision, kind: Option<ProvisionType>, request: &Request<'_>) -> bool {
    let fail_closed = kind == Some(ProvisionType::Deny);
    if !provision.unevaluable.is_empty() && !fail_closed {
        return false;
    }
    if let Some((start, end)) = provision.period {
        let started = start.is_none_or(|start| start <= request.now_ms);
        let not_ended = end.is_none_or(|end| request.now_ms < end);
        if !(started && not_ended) {
            return false;
        }
    }
    if !provision.actors.is_empty()
        && !provision
            .actors
            .iter()
            .any(|actor| actor_matches(actor, request.principal, fail_closed))
    {
        return false;
    }
    if !provision.actions.is_empty()
        && !provision
            .actions
            .iter()
            .any(|action| matches!(action.as_str(), "access" | "use" | "disclose"))
    {
        return false;
    }
    if !provision.security_labels.is_empty()
        && !provision.security_labels.iter().any(|wanted| {
            request
                .target
                .security_labels
                .iter()
                .any(|have| covers(wanted, have))
        })
    {
        return false;
    }
    if !provision.classes.is_empty()
        && !provision
            .classes
            .iter()
            .any(|class| class == request.target.resource_type)
    {
        return false;
    }
    true
}

fn actor_matches(actor: &Actor, principal: &Principal, fail_closed: bool) -> bool {
    match actor {
        Actor::Facility(clues) => principal.clues.as_deref() == Some(clues.as_str()),
        Actor::Role(role) => principal.role == *role,
        Actor::Practitioner(id) => principal.practitioner_id.as_deref() == Some(id.as_str()),
        Actor::Unresolved(_) => fail_closed,
        Actor::Other => false,
    }
}
