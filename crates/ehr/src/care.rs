//! The explicit care events, as use cases: *inicio de atención* (a facility starts caring for a
//! patient it had no relationship with) and *cambio de unidad* (a patient's registration moves
//! to the requester's facility).
//!
//! Why explicit: a care relationship opens a patient's whole record to a facility's staff
//! (`guard::care`), so no ordinary write may create one for the writer's own facility. A
//! patient from elsewhere who walks in is real and common, so starting care must be easy — one
//! operation with a reason — and visible: each event is audited with its reason, shown in the
//! patient's access log ("who viewed my record") and listed for the auditors' review
//! (`AuditEvent?action=care-start`, `registration-move`).

use auth::policy::{CARE_START_TYPE, CareEvent, DenyReason};
use fhir::{Issue, IssueCode, Json};
use mexico::systems;
use store::StoredResource;

use crate::guard::{Authority, forbidden};
use crate::lookup::StoreLookup;
use crate::write::Target;
use crate::{Ehr, Error, Requester};

/// The CodeSystem of our episode types.
const EPISODE_TYPE_SYSTEM: &str = "https://expediente.salud.gob.mx/fhir/CodeSystem/tipo-episodio";
/// The episode type of an inicio de atención.
const EPISODE_TYPE_CARE_START: &str = "inicio-atencion";
/// The extension carrying the reason on the EpisodeOfCare.
const EXT_CARE_START_REASON: &str =
    "https://expediente.salud.gob.mx/fhir/StructureDefinition/motivo-inicio-atencion";

/// `POST /Patient/{id}/$iniciar-atencion` and `$cambio-unidad` input.
#[derive(Clone, Debug)]
pub struct CareEventRequest {
    pub patient_id: String,
    /// Why (at least 20 characters and three words, as for break-glass: a reviewer reads it).
    pub reason: String,
}

impl Ehr {
    /// # `POST /Patient/{id}/$iniciar-atencion`
    ///
    /// Records that the requester's facility starts caring for the patient: an active
    /// `EpisodeOfCare` managed by the facility. Returns it, or `None` when the facility already
    /// has a care relationship with the patient (nothing to start).
    pub fn start_care(
        &self,
        who: &Requester,
        request: &CareEventRequest,
    ) -> Result<Option<StoredResource>, Error> {
        let reason = checked_reason(&request.reason)?;
        let clues = facility_clues(who)?;
        // The patient must exist and be findable by the requester (demographics).
        self.read(who, "Patient", &request.patient_id)?;
        let mut lookup = StoreLookup {
            store: self.store(),
        };
        if self
            .care_relationship(Some(&clues), &request.patient_id, &mut lookup)?
            .exists()
        {
            return Ok(None);
        }
        let organization = self.facility_reference(&clues)?;
        let patient_id = request.patient_id.clone();
        let stored = self.write(who, move |writer| {
            writer.reason = Some(reason.clone());
            let episode = Json::object([
                ("resourceType", Json::str(CARE_START_TYPE)),
                (
                    "extension",
                    Json::Array(vec![Json::object([
                        ("url", Json::str(EXT_CARE_START_REASON)),
                        ("valueString", Json::str(reason.clone())),
                    ])]),
                ),
                ("status", Json::str("active")),
                (
                    "type",
                    Json::Array(vec![Json::object([
                        (
                            "coding",
                            Json::Array(vec![Json::object([
                                ("system", Json::str(EPISODE_TYPE_SYSTEM)),
                                ("code", Json::str(EPISODE_TYPE_CARE_START)),
                                ("display", Json::str("Inicio de atención")),
                            ])]),
                        ),
                        ("text", Json::str("Inicio de atención")),
                    ])]),
                ),
                (
                    "patient",
                    Json::object([("reference", Json::str(format!("Patient/{patient_id}")))]),
                ),
                ("managingOrganization", organization.clone()),
                (
                    "period",
                    Json::object([("start", Json::str(writer.now_text()))]),
                ),
            ]);
            Ok(writer
                .put(
                    CARE_START_TYPE,
                    Target::Create(None),
                    episode,
                    None,
                    Authority::CareEvent(CareEvent::StartCare),
                )?
                .resource)
        })?;
        Ok(Some(stored))
    }

    /// # `POST /Patient/{id}/$cambio-unidad`
    ///
    /// Moves the patient's registration (`managingOrganization`) to the requester's facility.
    pub fn move_registration(
        &self,
        who: &Requester,
        request: &CareEventRequest,
    ) -> Result<StoredResource, Error> {
        let reason = checked_reason(&request.reason)?;
        let clues = facility_clues(who)?;
        self.read(who, "Patient", &request.patient_id)?;
        let organization = self.facility_reference(&clues)?;
        let patient_id = request.patient_id.clone();
        self.write(who, move |writer| {
            writer.reason = Some(reason.clone());
            let current = writer
                .tx()
                .read("Patient", &patient_id)
                .map_err(Error::from)?
                .filter(|c| !c.deleted)
                .ok_or_else(|| Error::not_found("Patient", &patient_id))?;
            let mut patient = fhir::json::parse_str(&current.body)
                .map_err(|err| Error::Internal(format!("stored Patient: {err}")))?;
            if let Some(object) = patient.as_object_mut() {
                object.insert("managingOrganization", organization.clone());
            }
            Ok(writer
                .put(
                    "Patient",
                    Target::Id(patient_id.clone()),
                    patient,
                    Some(current.version_id),
                    Authority::CareEvent(CareEvent::MoveRegistration),
                )?
                .resource)
        })
    }

    /// A reference to the facility with this CLUES: its Organization when the directory has
    /// one (with the CLUES as identifier too), else the CLUES alone (a logical reference).
    pub(crate) fn facility_reference(&self, clues: &str) -> Result<Json, Error> {
        let mut lookup = StoreLookup {
            store: self.store(),
        };
        let facility = self.facility(clues, &mut lookup)?;
        let identifier = Json::object([
            ("system", Json::str(systems::CLUES)),
            ("value", Json::str(clues)),
        ]);
        Ok(match facility.organizations.first() {
            Some(id) => Json::object([
                ("reference", Json::str(format!("Organization/{id}"))),
                ("identifier", identifier),
            ]),
            None => Json::object([("identifier", identifier)]),
        })
    }
}

/// The requester's facility: the care events are made by facility staff, for their facility.
pub(crate) fn facility_clues(who: &Requester) -> Result<String, Error> {
    if !who.role().requires_clues() {
        return Err(forbidden(DenyReason::RoleNotPermitted));
    }
    match who.principal.clues.as_deref().map(str::trim) {
        Some(clues) if !clues.is_empty() => Ok(clues.to_string()),
        _ => Err(forbidden(DenyReason::NoFacility)),
    }
}

/// The reason, under the break-glass rules (a reviewer must be able to understand it).
fn checked_reason(reason: &str) -> Result<String, Error> {
    auth::break_glass::validate_reason(reason)
        .map(str::to_string)
        .map_err(|err| {
            Error::BadRequest(vec![Issue::error(
                IssueCode::Required,
                err.message_es(),
                err.message_en(),
            )])
        })
}
