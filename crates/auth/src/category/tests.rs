//! Unit tests for the category table: complete, sorted, and consistent with the R4 Patient
//! compartment.

use super::{Category, category_of, table};

/// The resource types of R4's `CompartmentDefinition-patient` (hl7.fhir.r4.examples 4.0.1) that
/// have a compartment parameter, i.e. that can hold one patient's data.
const PATIENT_COMPARTMENT: &[&str] = &[
    "Account",
    "AdverseEvent",
    "AllergyIntolerance",
    "Appointment",
    "AppointmentResponse",
    "AuditEvent",
    "Basic",
    "BodyStructure",
    "CarePlan",
    "CareTeam",
    "ChargeItem",
    "Claim",
    "ClaimResponse",
    "ClinicalImpression",
    "Communication",
    "CommunicationRequest",
    "Composition",
    "Condition",
    "Consent",
    "Coverage",
    "CoverageEligibilityRequest",
    "CoverageEligibilityResponse",
    "DetectedIssue",
    "DeviceRequest",
    "DeviceUseStatement",
    "DiagnosticReport",
    "DocumentManifest",
    "DocumentReference",
    "Encounter",
    "EnrollmentRequest",
    "EpisodeOfCare",
    "ExplanationOfBenefit",
    "FamilyMemberHistory",
    "Flag",
    "Goal",
    "Group",
    "ImagingStudy",
    "Immunization",
    "ImmunizationEvaluation",
    "ImmunizationRecommendation",
    "Invoice",
    "List",
    "MeasureReport",
    "Media",
    "MedicationAdministration",
    "MedicationDispense",
    "MedicationRequest",
    "MedicationStatement",
    "MolecularSequence",
    "NutritionOrder",
    "Observation",
    "Patient",
    "Person",
    "Procedure",
    "Provenance",
    "QuestionnaireResponse",
    "RelatedPerson",
    "RequestGroup",
    "ResearchSubject",
    "RiskAssessment",
    "Schedule",
    "ServiceRequest",
    "Specimen",
    "SupplyDelivery",
    "SupplyRequest",
    "VisionPrescription",
];

#[test]
fn table_is_sorted_and_unique() {
    for pair in table().windows(2) {
        assert!(pair[0].0 < pair[1].0, "{} before {}", pair[0].0, pair[1].0);
    }
}

/// Exactly the R4 resource types known to the `fhir` crate (generated from the HL7 package).
#[test]
fn table_covers_exactly_the_r4_resource_types() {
    let r4: Vec<&str> = fhir::defs::resource_types().collect();
    assert!(
        r4.len() > 140,
        "definitions unavailable: {:?}",
        fhir::defs::load_error()
    );
    let ours: Vec<&str> = table().iter().map(|(name, _)| *name).collect();
    let missing: Vec<&&str> = r4.iter().filter(|t| !ours.contains(t)).collect();
    let extra: Vec<&&str> = ours.iter().filter(|t| !r4.contains(t)).collect();
    assert!(missing.is_empty(), "types without a category: {missing:?}");
    assert!(extra.is_empty(), "not R4 types: {extra:?}");
    for name in &r4 {
        assert!(category_of(name).is_some(), "{name}");
    }
}

/// A type that can hold one patient's data is never in a category that non-clinical roles may read.
#[test]
fn patient_compartment_types_are_patient_data() {
    for name in PATIENT_COMPARTMENT {
        let category = category_of(name).unwrap_or(Category::Exchange);
        assert!(category.is_patient_data(), "{name} is {category:?}");
    }
    // Patient-data categories outside the compartment are the documented privacy-first choices.
    let extra: Vec<&str> = table()
        .iter()
        .filter(|(name, category)| {
            category.is_patient_data() && !PATIENT_COMPARTMENT.contains(name)
        })
        .map(|(name, _)| *name)
        .collect();
    assert_eq!(
        extra,
        [
            "Binary",
            "BiologicallyDerivedProduct",
            "Bundle",
            "ChargeItemDefinition",
            "Contract",
            "Device",
            "DeviceMetric",
            "EnrollmentResponse",
            "GuidanceResponse",
            "InsurancePlan",
            "Linkage",
            "PaymentNotice",
            "PaymentReconciliation",
            "Slot",
            "Task",
        ]
    );
}

#[test]
fn lookups() {
    assert_eq!(category_of("Patient"), Some(Category::Demographic));
    assert_eq!(category_of("Observation"), Some(Category::Clinical));
    assert_eq!(category_of("Consent"), Some(Category::Privacy));
    assert_eq!(category_of("AuditEvent"), Some(Category::Audit));
    assert_eq!(category_of("ValueSet"), Some(Category::Terminology));
    assert_eq!(category_of("patient"), None);
    assert_eq!(category_of(""), None);
    assert_eq!(category_of("Resource"), None);
    assert_eq!(category_of("DomainResource"), None);
}
