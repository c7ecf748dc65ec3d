//! The access-control category of every R4 resource type, hard-coded as a table.
//!
//! Why a hand-written table: the role matrix is a security policy, so each assignment must be a
//! visible, reviewable decision rather than the output of a heuristic. FHIR's own grouping of the
//! resource list (Foundation / Base / Clinical / Financial / Specialized) is the starting point; the
//! R4 Patient compartment (`CompartmentDefinition-patient`) decides the doubtful cases: a type that
//! can hold data about one patient is never put in a category that non-clinical roles can read.
//! A test checks that the table covers exactly the R4 resource types of the `fhir` crate and that
//! every Patient-compartment type lands in a patient-data category.
//!
//! Doubtful cases, decided towards privacy:
//! * `Binary`, `Bundle`, `Basic`, `Linkage`, `Group`, `Provenance`, `MeasureReport`, `Device`,
//!   `DeviceMetric`, `Task`, `SupplyRequest`/`SupplyDelivery` are [`Category::Clinical`]: each can
//!   carry or point at one patient's care data (a document, a cohort, an implant).
//! * `Consent` is its own category, [`Category::Privacy`]: it reveals which sensitive categories a
//!   patient protects, so receptionists and administrators do not see it.
//! * `AuditEvent` is [`Category::Audit`]: read-only through the API for everyone.
//! * `Medication`, `Substance`, `*Definition` and the medicinal-product types are catalog content
//!   ([`Category::Knowledge`]), not patient data.

#[cfg(test)]
mod tests;

/// What kind of information a resource type holds, for the role matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// Who the patient is: `Patient`, `RelatedPerson`, `Person`.
    Demographic,
    /// Appointments and agendas: `Appointment`, `AppointmentResponse`, `Schedule`, `Slot`.
    Scheduling,
    /// The directory of the health system: organizations, locations, practitioners, services,
    /// endpoints.
    Directory,
    /// Care content about a patient: findings, diagnoses, medication, documents, encounters.
    Clinical,
    /// The patient's privacy choices: `Consent`.
    Privacy,
    /// The audit trail: `AuditEvent`.
    Audit,
    /// Billing, coverage and claims.
    Financial,
    /// Definitional and catalog content: order sets, questionnaires, medication catalogs,
    /// evidence, research definitions.
    Knowledge,
    /// How the server and the API are defined: StructureDefinition, CapabilityStatement, …
    Conformance,
    /// Code systems and value sets.
    Terminology,
    /// Messaging and server plumbing: `MessageHeader`, `Subscription`, `Parameters`,
    /// `OperationOutcome`.
    Exchange,
}

impl Category {
    /// Every category, in a fixed order.
    pub const ALL: [Category; 11] = [
        Category::Demographic,
        Category::Scheduling,
        Category::Directory,
        Category::Clinical,
        Category::Privacy,
        Category::Audit,
        Category::Financial,
        Category::Knowledge,
        Category::Conformance,
        Category::Terminology,
        Category::Exchange,
    ];

    /// Whether resources of this category hold data about one patient (and therefore fall under
    /// the care-relationship, own-record and consent rules).
    pub fn is_patient_data(self) -> bool {
        matches!(
            self,
            Category::Demographic
                | Category::Scheduling
                | Category::Clinical
                | Category::Privacy
                | Category::Audit
                | Category::Financial
        )
    }

    /// A short English name (docs, tests, logs).
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Demographic => "demographic",
            Category::Scheduling => "scheduling",
            Category::Directory => "directory",
            Category::Clinical => "clinical",
            Category::Privacy => "privacy",
            Category::Audit => "audit",
            Category::Financial => "financial",
            Category::Knowledge => "knowledge",
            Category::Conformance => "conformance",
            Category::Terminology => "terminology",
            Category::Exchange => "exchange",
        }
    }

    /// The Spanish name, for messages.
    pub fn label_es(self) -> &'static str {
        match self {
            Category::Demographic => "datos demográficos",
            Category::Scheduling => "citas y agendas",
            Category::Directory => "directorio de establecimientos y personal",
            Category::Clinical => "información clínica",
            Category::Privacy => "consentimientos",
            Category::Audit => "bitácora de auditoría",
            Category::Financial => "información financiera",
            Category::Knowledge => "catálogos y definiciones",
            Category::Conformance => "definiciones del servidor",
            Category::Terminology => "terminologías",
            Category::Exchange => "mensajería e infraestructura",
        }
    }
}

/// The category of an R4 resource type, or `None` when `resource_type` is not one (the caller
/// answers 404/400; an unknown type is never granted).
pub fn category_of(resource_type: &str) -> Option<Category> {
    TABLE
        .binary_search_by(|(name, _)| name.cmp(&resource_type))
        .ok()
        .and_then(|idx| TABLE.get(idx))
        .map(|(_, category)| *category)
}

/// All R4 resource types with their category, sorted by type name (binary search relies on it;
/// a test checks the order).
pub fn table() -> &'static [(&'static str, Category)] {
    TABLE
}

use Category::{
    Audit, Clinical, Conformance, Demographic, Directory, Exchange, Financial, Knowledge, Privacy,
    Scheduling, Terminology,
};

static TABLE: &[(&str, Category)] = &[
    ("Account", Financial),
    ("ActivityDefinition", Knowledge),
    ("AdverseEvent", Clinical),
    ("AllergyIntolerance", Clinical),
    ("Appointment", Scheduling),
    ("AppointmentResponse", Scheduling),
    ("AuditEvent", Audit),
    ("Basic", Clinical),
    ("Binary", Clinical),
    ("BiologicallyDerivedProduct", Clinical),
    ("BodyStructure", Clinical),
    ("Bundle", Clinical),
    ("CapabilityStatement", Conformance),
    ("CarePlan", Clinical),
    ("CareTeam", Clinical),
    ("CatalogEntry", Knowledge),
    ("ChargeItem", Financial),
    ("ChargeItemDefinition", Financial),
    ("Claim", Financial),
    ("ClaimResponse", Financial),
    ("ClinicalImpression", Clinical),
    ("CodeSystem", Terminology),
    ("Communication", Clinical),
    ("CommunicationRequest", Clinical),
    ("CompartmentDefinition", Conformance),
    ("Composition", Clinical),
    ("ConceptMap", Terminology),
    ("Condition", Clinical),
    ("Consent", Privacy),
    ("Contract", Financial),
    ("Coverage", Financial),
    ("CoverageEligibilityRequest", Financial),
    ("CoverageEligibilityResponse", Financial),
    ("DetectedIssue", Clinical),
    ("Device", Clinical),
    ("DeviceDefinition", Knowledge),
    ("DeviceMetric", Clinical),
    ("DeviceRequest", Clinical),
    ("DeviceUseStatement", Clinical),
    ("DiagnosticReport", Clinical),
    ("DocumentManifest", Clinical),
    ("DocumentReference", Clinical),
    ("EffectEvidenceSynthesis", Knowledge),
    ("Encounter", Clinical),
    ("Endpoint", Directory),
    ("EnrollmentRequest", Financial),
    ("EnrollmentResponse", Financial),
    ("EpisodeOfCare", Clinical),
    ("EventDefinition", Knowledge),
    ("Evidence", Knowledge),
    ("EvidenceVariable", Knowledge),
    ("ExampleScenario", Conformance),
    ("ExplanationOfBenefit", Financial),
    ("FamilyMemberHistory", Clinical),
    ("Flag", Clinical),
    ("Goal", Clinical),
    ("GraphDefinition", Conformance),
    ("Group", Clinical),
    ("GuidanceResponse", Clinical),
    ("HealthcareService", Directory),
    ("ImagingStudy", Clinical),
    ("Immunization", Clinical),
    ("ImmunizationEvaluation", Clinical),
    ("ImmunizationRecommendation", Clinical),
    ("ImplementationGuide", Conformance),
    ("InsurancePlan", Financial),
    ("Invoice", Financial),
    ("Library", Knowledge),
    ("Linkage", Clinical),
    ("List", Clinical),
    ("Location", Directory),
    ("Measure", Knowledge),
    ("MeasureReport", Clinical),
    ("Media", Clinical),
    ("Medication", Knowledge),
    ("MedicationAdministration", Clinical),
    ("MedicationDispense", Clinical),
    ("MedicationKnowledge", Knowledge),
    ("MedicationRequest", Clinical),
    ("MedicationStatement", Clinical),
    ("MedicinalProduct", Knowledge),
    ("MedicinalProductAuthorization", Knowledge),
    ("MedicinalProductContraindication", Knowledge),
    ("MedicinalProductIndication", Knowledge),
    ("MedicinalProductIngredient", Knowledge),
    ("MedicinalProductInteraction", Knowledge),
    ("MedicinalProductManufactured", Knowledge),
    ("MedicinalProductPackaged", Knowledge),
    ("MedicinalProductPharmaceutical", Knowledge),
    ("MedicinalProductUndesirableEffect", Knowledge),
    ("MessageDefinition", Conformance),
    ("MessageHeader", Exchange),
    ("MolecularSequence", Clinical),
    ("NamingSystem", Terminology),
    ("NutritionOrder", Clinical),
    ("Observation", Clinical),
    ("ObservationDefinition", Knowledge),
    ("OperationDefinition", Conformance),
    ("OperationOutcome", Exchange),
    ("Organization", Directory),
    ("OrganizationAffiliation", Directory),
    ("Parameters", Exchange),
    ("Patient", Demographic),
    ("PaymentNotice", Financial),
    ("PaymentReconciliation", Financial),
    ("Person", Demographic),
    ("PlanDefinition", Knowledge),
    ("Practitioner", Directory),
    ("PractitionerRole", Directory),
    ("Procedure", Clinical),
    ("Provenance", Clinical),
    ("Questionnaire", Knowledge),
    ("QuestionnaireResponse", Clinical),
    ("RelatedPerson", Demographic),
    ("RequestGroup", Clinical),
    ("ResearchDefinition", Knowledge),
    ("ResearchElementDefinition", Knowledge),
    ("ResearchStudy", Knowledge),
    ("ResearchSubject", Clinical),
    ("RiskAssessment", Clinical),
    ("RiskEvidenceSynthesis", Knowledge),
    ("Schedule", Scheduling),
    ("SearchParameter", Conformance),
    ("ServiceRequest", Clinical),
    ("Slot", Scheduling),
    ("Specimen", Clinical),
    ("SpecimenDefinition", Knowledge),
    ("StructureDefinition", Conformance),
    ("StructureMap", Conformance),
    ("Subscription", Exchange),
    ("Substance", Knowledge),
    ("SubstanceNucleicAcid", Knowledge),
    ("SubstancePolymer", Knowledge),
    ("SubstanceProtein", Knowledge),
    ("SubstanceReferenceInformation", Knowledge),
    ("SubstanceSourceMaterial", Knowledge),
    ("SubstanceSpecification", Knowledge),
    ("SupplyDelivery", Clinical),
    ("SupplyRequest", Clinical),
    ("Task", Clinical),
    ("TerminologyCapabilities", Terminology),
    ("TestReport", Conformance),
    ("TestScript", Conformance),
    ("ValueSet", Terminology),
    ("VerificationResult", Directory),
    ("VisionPrescription", Clinical),
];
