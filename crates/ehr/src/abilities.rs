//! What a requester may do with one patient's record, asked before a screen offers an action
//! (issue 13: "an action that will be refused is not offered").
//!
//! Why here and not in the UI: the answer must be the write guard's own, or a screen would
//! offer what the record then refuses (a nurse's consultation form, a note under break-glass,
//! a receptionist's clinical link). Each ability is the policy decision (`auth::policy::decide`
//! through [`Ehr::decide_on`]) for a representative write of that kind about this patient, with
//! the real care relationship and consents; nothing is written and nothing is audited (no
//! record content is read: only whether the facility cares for the patient, which the screen
//! needs to say anyway). A write can still be refused later for a reason that depends on the
//! resource itself (a label, a consent on one category): the screens handle that refusal too.

use auth::label::Coding;
use auth::policy::{CareEvent, Decision};
use auth::role::Role;
use auth::scope::Interaction;

use crate::guard::TargetFacts;
use crate::lookup::StoreLookup;
use crate::{Ehr, Error, Requester};

/// The actions a screen may offer for one patient.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecordAbilities {
    /// Clinical content may be read (a care relationship, or an active break-glass grant).
    pub read_record: bool,
    /// The requester's facility has a care relationship with the patient.
    pub care_relationship: bool,
    /// The patient is registered at the requester's facility.
    pub registered_here: bool,
    /// A consultation (Encounter, diagnoses, signed note) may be written.
    pub write_note: bool,
    /// Medications may be prescribed, stopped or suspended.
    pub prescribe: bool,
    /// Laboratory, imaging and referral orders may be written.
    pub order: bool,
    /// Vital signs may be recorded (nurses too).
    pub record_vitals: bool,
    /// Immunizations may be recorded (nurses too).
    pub immunize: bool,
    /// Allergies may be added, refuted or denied.
    pub edit_allergies: bool,
    /// Problems may be resolved or marked acute or chronic.
    pub edit_problems: bool,
    /// Demographics may be corrected.
    pub edit_demographics: bool,
    /// An *inicio de atención* may be recorded (no relationship yet, and the role may).
    pub start_care: bool,
    /// A *cambio de unidad* to the requester's facility may be recorded.
    pub move_registration: bool,
    /// Without a relationship, the record may be opened by break-glass.
    pub break_glass: bool,
}

/// The `category` of a vital-sign Observation (the nurse rule reads it).
const VITAL_SIGNS: (&str, &str) = auth::policy::VITAL_SIGNS_CATEGORY;

impl Ehr {
    /// # What may `who` do with this patient's record?
    ///
    /// See the module docs. The patient must exist and be visible to `who` (demographics).
    pub fn record_abilities(
        &self,
        who: &Requester,
        patient_id: &str,
    ) -> Result<RecordAbilities, Error> {
        // The patient must exist for this requester (a staff role reads demographics).
        self.read(who, "Patient", patient_id)?;
        let mut lookup = StoreLookup {
            store: self.store(),
        };
        let relationship = match who.role() {
            Role::Physician | Role::Nurse | Role::Receptionist => {
                self.care_relationship(who.principal.clues.as_deref(), patient_id, &mut lookup)?
            }
            _ => auth::policy::CareRelationship::NONE,
        };
        let mut permits = |interaction: Interaction,
                           resource_type: &str,
                           categories: Vec<Coding>,
                           care_event: Option<CareEvent>|
         -> Result<bool, Error> {
            let facts = TargetFacts {
                patient_id: Some(patient_id.to_string()),
                categories,
                ..TargetFacts::default()
            };
            Ok(matches!(
                self.decide_on(
                    who,
                    interaction,
                    resource_type,
                    &facts,
                    care_event,
                    &mut lookup
                )?,
                Decision::Permit(_)
            ))
        };
        let create = Interaction::Create;
        let read_record = permits(Interaction::Read, "Encounter", Vec::new(), None)?;
        let write_note = permits(create, "Encounter", Vec::new(), None)?
            && permits(create, "Composition", Vec::new(), None)?
            && permits(create, "Condition", Vec::new(), None)?;
        let prescribe = permits(create, "MedicationRequest", Vec::new(), None)?
            && permits(Interaction::Update, "MedicationRequest", Vec::new(), None)?;
        let order = permits(create, "ServiceRequest", Vec::new(), None)?;
        let record_vitals = permits(
            create,
            "Observation",
            vec![Coding::new(VITAL_SIGNS.0, VITAL_SIGNS.1)],
            None,
        )?;
        let immunize = permits(create, "Immunization", Vec::new(), None)?;
        let edit_allergies = permits(create, "AllergyIntolerance", Vec::new(), None)?
            && permits(Interaction::Update, "AllergyIntolerance", Vec::new(), None)?;
        let edit_problems = permits(Interaction::Update, "Condition", Vec::new(), None)?;
        let edit_demographics = permits(Interaction::Update, "Patient", Vec::new(), None)?;
        let has_facility = who
            .principal
            .clues
            .as_deref()
            .is_some_and(|c| !c.trim().is_empty());
        let start_care =
            has_facility && !relationship.exists() && CareEvent::StartCare.permitted_to(who.role());
        let move_registration = has_facility
            && !relationship.registered_here
            && CareEvent::MoveRegistration.permitted_to(who.role());
        Ok(RecordAbilities {
            read_record,
            care_relationship: relationship.exists(),
            registered_here: relationship.registered_here,
            write_note,
            prescribe,
            order,
            record_vitals,
            immunize,
            edit_allergies,
            edit_problems,
            edit_demographics,
            start_care,
            move_registration,
            break_glass: !read_record && !relationship.exists() && who.role().is_clinician(),
        })
    }
}

#[cfg(test)]
mod tests;
