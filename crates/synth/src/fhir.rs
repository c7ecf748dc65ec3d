//! The subset of FHIR R4 that the generator writes, as borrowed serde structs.
//!
//! Why typed structs and not `serde_json::Value`: field order stays the conventional one
//! (`resourceType`, `id`, … as in the specification's examples), no element outside R4 can be written
//! by accident, and serialization allocates almost nothing, which is what makes ≥ 100,000 resources/s
//! possible. Everything borrows from the generator's tables and the current patient, so a resource is
//! built, serialized and dropped without copies.
//!
//! Only the elements we fill are declared; each struct's field list is its R4 element order.

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;
use serde::ser::{SerializeMap, SerializeStruct, Serializer};

use crate::date::{Date, DateTime};
use crate::rng::Rng;

/// Code systems and value-set URIs of HL7 that the generator uses.
pub(crate) mod sys {
    pub(crate) const UCUM: &str = "http://unitsofmeasure.org";
    pub(crate) const SNOMED: &str = "http://snomed.info/sct";
    pub(crate) const OBS_CATEGORY: &str =
        "http://terminology.hl7.org/CodeSystem/observation-category";
    pub(crate) const OBS_INTERPRETATION: &str =
        "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";
    pub(crate) const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
    pub(crate) const PARTICIPATION_TYPE: &str =
        "http://terminology.hl7.org/CodeSystem/v3-ParticipationType";
    pub(crate) const CONDITION_CLINICAL: &str =
        "http://terminology.hl7.org/CodeSystem/condition-clinical";
    pub(crate) const CONDITION_VER: &str =
        "http://terminology.hl7.org/CodeSystem/condition-ver-status";
    pub(crate) const CONDITION_CATEGORY: &str =
        "http://terminology.hl7.org/CodeSystem/condition-category";
    pub(crate) const ALLERGY_CLINICAL: &str =
        "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical";
    pub(crate) const ALLERGY_VER: &str =
        "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification";
    pub(crate) const V2_0074: &str = "http://terminology.hl7.org/CodeSystem/v2-0074";
    pub(crate) const V2_0443: &str = "http://terminology.hl7.org/CodeSystem/v2-0443";
    pub(crate) const MED_REQ_CATEGORY: &str =
        "http://terminology.hl7.org/CodeSystem/medicationrequest-category";
    pub(crate) const IMM_ORIGIN: &str = "http://terminology.hl7.org/CodeSystem/immunization-origin";
    pub(crate) const ROUTE_V3: &str =
        "http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration";
    pub(crate) const ORG_TYPE: &str = "http://terminology.hl7.org/CodeSystem/organization-type";
    pub(crate) const ROLE_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-RoleCode";
    pub(crate) const MARITAL: &str = "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus";
    pub(crate) const BCP47: &str = "urn:ietf:bcp:47";
    pub(crate) const FATHERS_FAMILY: &str =
        "http://hl7.org/fhir/StructureDefinition/humanname-fathers-family";
    pub(crate) const MOTHERS_FAMILY: &str =
        "http://hl7.org/fhir/StructureDefinition/humanname-mothers-family";
    /// Local code system for the kind of health worker (DGIS `TIPO_PERSONAL` is the model; its numeric
    /// codes are not published in a stable place, so we use mnemonic codes with Spanish displays).
    pub(crate) const TIPO_PERSONAL: &str =
        "https://expediente.salud.gob.mx/fhir/CodeSystem/tipo-personal";
    /// Local code system for the outpatient service that saw the patient.
    pub(crate) const SERVICIO: &str = "https://expediente.salud.gob.mx/fhir/CodeSystem/servicio";
    /// Local code system for first-time versus follow-up visits (GIIS-B015 `primeraVezAnio`).
    pub(crate) const TIPO_CONSULTA: &str =
        "https://expediente.salud.gob.mx/fhir/CodeSystem/tipo-consulta";
}

/// A resource id: 36 characters shaped like a random (version 4) UUID, drawn from the seeded stream.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Id([u8; 36]);

impl Id {
    pub(crate) fn random(rng: &mut Rng) -> Id {
        let hi = rng.next_u64();
        let lo = rng.next_u64();
        // Version 4 and RFC 4122 variant bits, so that every id is a syntactically valid UUID.
        let hi = (hi & 0xffff_ffff_ffff_0fff) | 0x0000_0000_0000_4000;
        let lo = (lo & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
        let bytes = (u128::from(hi) << 64 | u128::from(lo)).to_be_bytes();
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 36];
        let mut pos = 0;
        for (i, b) in bytes.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                out[pos] = b'-';
                pos += 1;
            }
            out[pos] = HEX[usize::from(b >> 4)];
            out[pos + 1] = HEX[usize::from(b & 0xf)];
            pos += 2;
        }
        Id(out)
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII hex digits and dashes are ever written into the array.
        std::str::from_utf8(&self.0).unwrap_or("00000000-0000-4000-8000-000000000000")
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A FHIR `dateTime` that is either a full timestamp or only a date (for facts known to the day, such
/// as a vaccine transcribed from the Cartilla Nacional de Salud or the onset of an old diagnosis).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum When {
    At(DateTime),
    Day(Date),
}

impl Serialize for When {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            When::At(t) => t.serialize(s),
            When::Day(d) => d.serialize(s),
        }
    }
}

/// A literal reference `Type/id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ref {
    pub(crate) ty: &'static str,
    pub(crate) id: Id,
}

impl Ref {
    pub(crate) fn new(ty: &'static str, id: Id) -> Ref {
        Ref { ty, id }
    }
}

impl Serialize for Ref {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Literal<'r>(&'r Ref);
        impl fmt::Display for Literal<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}/{}", self.0.ty, self.0.id)
            }
        }
        impl Serialize for Literal<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        let mut st = s.serialize_struct("Reference", 1)?;
        st.serialize_field("reference", &Literal(self))?;
        st.end()
    }
}

/// A JSON number written with a fixed number of decimals (`72.5`, `104`, `0.92`), never through float
/// formatting, so the bytes do not depend on a float-printing algorithm.
/// Exact powers of ten for the supported scales (at most three decimals are ever written).
const POW10: [f64; 4] = [1.0, 10.0, 100.0, 1000.0];

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Num {
    /// The value times 10^scale.
    pub(crate) scaled: i64,
    pub(crate) scale: u8,
}

impl Num {
    /// Rounds `value` to `scale` decimals (half away from zero, which `f64::round` does exactly).
    pub(crate) fn fixed(value: f64, scale: u8) -> Num {
        Num {
            scaled: (value * POW10[usize::from(scale.min(3))]).round() as i64,
            scale: scale.min(3),
        }
    }

    pub(crate) fn int(value: i64) -> Num {
        Num {
            scaled: value,
            scale: 0,
        }
    }

    /// The value as a float (for comparisons with reference ranges).
    pub(crate) fn as_f64(self) -> f64 {
        self.scaled as f64 / POW10[usize::from(self.scale.min(3))]
    }
}

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.scale == 0 {
            return write!(f, "{}", self.scaled);
        }
        let factor = 10i64.pow(u32::from(self.scale));
        let sign = if self.scaled < 0 { "-" } else { "" };
        let abs = self.scaled.unsigned_abs();
        let factor = factor.unsigned_abs();
        write!(
            f,
            "{sign}{}.{:0width$}",
            abs / factor,
            abs % factor,
            width = usize::from(self.scale)
        )
    }
}

impl Serialize for Num {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.scale == 0 {
            return s.serialize_i64(self.scaled);
        }
        let raw = serde_json::value::RawValue::from_string(self.to_string())
            .map_err(serde::ser::Error::custom)?;
        raw.serialize(s)
    }
}

#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Coding<'a> {
    pub(crate) system: &'a str,
    pub(crate) code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) display: Option<&'a str>,
}

impl<'a> Coding<'a> {
    pub(crate) const fn new(system: &'a str, code: &'a str, display: &'a str) -> Coding<'a> {
        Coding {
            system,
            code,
            display: Some(display),
        }
    }
}

/// A CodeableConcept with at most one coding, which is all the generator needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CC<'a> {
    pub(crate) coding: Option<Coding<'a>>,
    pub(crate) text: Option<&'a str>,
}

impl<'a> CC<'a> {
    pub(crate) const fn code(coding: Coding<'a>) -> CC<'a> {
        CC {
            coding: Some(coding),
            text: None,
        }
    }
    pub(crate) const fn coded_text(coding: Coding<'a>, text: &'a str) -> CC<'a> {
        CC {
            coding: Some(coding),
            text: Some(text),
        }
    }
    pub(crate) const fn text(text: &'a str) -> CC<'a> {
        CC {
            coding: None,
            text: Some(text),
        }
    }
    pub(crate) const fn of(system: &'a str, code: &'a str, display: &'a str) -> CC<'a> {
        CC::code(Coding::new(system, code, display))
    }
}

impl Serialize for CC<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let n = usize::from(self.coding.is_some()) + usize::from(self.text.is_some());
        let mut m = s.serialize_map(Some(n))?;
        if let Some(c) = &self.coding {
            m.serialize_entry("coding", std::slice::from_ref(c))?;
        }
        if let Some(t) = self.text {
            m.serialize_entry("text", t)?;
        }
        m.end()
    }
}

#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Quantity<'a> {
    pub(crate) value: Num,
    pub(crate) unit: &'a str,
    pub(crate) system: &'a str,
    pub(crate) code: &'a str,
}

impl<'a> Quantity<'a> {
    pub(crate) fn ucum(value: Num, unit: &'a str, code: &'a str) -> Quantity<'a> {
        Quantity {
            value,
            unit,
            system: sys::UCUM,
            code,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Identifier<'a> {
    #[serde(rename = "use", skip_serializing_if = "Option::is_none")]
    pub(crate) use_: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub(crate) type_: Option<CC<'a>>,
    pub(crate) system: &'a str,
    pub(crate) value: Cow<'a, str>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Period {
    pub(crate) start: DateTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) end: Option<DateTime>,
}

/// An extension with a primitive value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Extension<'a> {
    String(&'a str, &'a str),
    Boolean(&'a str, bool),
}

impl Serialize for Extension<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        match *self {
            Extension::String(url, v) => {
                m.serialize_entry("url", url)?;
                m.serialize_entry("valueString", v)?;
            }
            Extension::Boolean(url, v) => {
                m.serialize_entry("url", url)?;
                m.serialize_entry("valueBoolean", &v)?;
            }
        }
        m.end()
    }
}

/// The `_family` companion element: the extensions of the primitive `family`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ElementExt<'a> {
    pub(crate) extension: Vec<Extension<'a>>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct HumanName<'a> {
    #[serde(rename = "use")]
    pub(crate) use_: &'a str,
    pub(crate) text: &'a str,
    pub(crate) family: &'a str,
    #[serde(rename = "_family")]
    pub(crate) family_ext: ElementExt<'a>,
    pub(crate) given: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) prefix: Option<[&'a str; 1]>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct ContactPoint<'a> {
    pub(crate) system: &'a str,
    pub(crate) value: &'a str,
    #[serde(rename = "use")]
    pub(crate) use_: &'a str,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Address<'a> {
    #[serde(rename = "use")]
    pub(crate) use_: &'a str,
    #[serde(rename = "type")]
    pub(crate) type_: &'a str,
    pub(crate) text: &'a str,
    pub(crate) line: [&'a str; 2],
    pub(crate) city: &'a str,
    pub(crate) state: &'a str,
    pub(crate) postal_code: &'a str,
    pub(crate) country: &'a str,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Annotation<'a> {
    pub(crate) text: &'a str,
}

// ---------------------------------------------------------------------------------------------------
// Resources.

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Organization<'a> {
    pub(crate) resource_type: &'static str,
    pub(crate) id: Id,
    pub(crate) identifier: [Identifier<'a>; 1],
    pub(crate) active: bool,
    #[serde(rename = "type")]
    pub(crate) type_: [CC<'a>; 1],
    pub(crate) name: &'a str,
    pub(crate) telecom: [ContactPoint<'a>; 1],
    pub(crate) address: [Address<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Location<'a> {
    pub(crate) resource_type: &'static str,
    pub(crate) id: Id,
    pub(crate) identifier: [Identifier<'a>; 1],
    pub(crate) status: &'static str,
    pub(crate) name: &'a str,
    pub(crate) mode: &'static str,
    #[serde(rename = "type")]
    pub(crate) type_: [CC<'a>; 1],
    pub(crate) telecom: [ContactPoint<'a>; 1],
    pub(crate) address: Address<'a>,
    pub(crate) physical_type: CC<'a>,
    pub(crate) managing_organization: Ref,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Qualification<'a> {
    pub(crate) identifier: [Identifier<'a>; 1],
    pub(crate) code: CC<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Practitioner<'a> {
    pub(crate) resource_type: &'static str,
    pub(crate) id: Id,
    pub(crate) identifier: Vec<Identifier<'a>>,
    pub(crate) active: bool,
    pub(crate) name: [HumanName<'a>; 1],
    pub(crate) gender: &'static str,
    pub(crate) birth_date: Date,
    pub(crate) qualification: Vec<Qualification<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AvailableTime<'a> {
    pub(crate) days_of_week: &'a [&'a str],
    pub(crate) available_start_time: &'a str,
    pub(crate) available_end_time: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PractitionerRole<'a> {
    pub(crate) resource_type: &'static str,
    pub(crate) id: Id,
    pub(crate) active: bool,
    pub(crate) practitioner: Ref,
    pub(crate) organization: Ref,
    pub(crate) code: [CC<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) specialty: Option<[CC<'a>; 1]>,
    pub(crate) location: [Ref; 1],
    pub(crate) available_time: [AvailableTime<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Communication<'a> {
    pub(crate) language: CC<'a>,
    pub(crate) preferred: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Patient<'a> {
    pub(crate) resource_type: &'static str,
    pub(crate) id: Id,
    pub(crate) extension: Vec<Extension<'a>>,
    pub(crate) identifier: Vec<Identifier<'a>>,
    pub(crate) active: bool,
    pub(crate) name: [HumanName<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) telecom: Option<[ContactPoint<'a>; 1]>,
    pub(crate) gender: &'static str,
    pub(crate) birth_date: Date,
    pub(crate) address: [Address<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) marital_status: Option<CC<'a>>,
    pub(crate) communication: Vec<Communication<'a>>,
    pub(crate) general_practitioner: [Ref; 1],
    pub(crate) managing_organization: Ref,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Participant<'a> {
    #[serde(rename = "type")]
    pub(crate) type_: [CC<'a>; 1],
    pub(crate) individual: Ref,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EncounterLocation {
    pub(crate) location: Ref,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Encounter<'a> {
    pub(crate) resource_type: &'static str,
    pub(crate) id: Id,
    pub(crate) status: &'static str,
    pub(crate) class: Coding<'a>,
    #[serde(rename = "type")]
    pub(crate) type_: [CC<'a>; 1],
    pub(crate) service_type: CC<'a>,
    pub(crate) subject: Ref,
    pub(crate) participant: [Participant<'a>; 1],
    pub(crate) period: Period,
    pub(crate) reason_code: Vec<CC<'a>>,
    pub(crate) location: [EncounterLocation; 1],
    pub(crate) service_provider: Ref,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Condition<'a> {
    pub(crate) resource_type: &'static str,
    pub(crate) id: Id,
    pub(crate) clinical_status: CC<'a>,
    pub(crate) verification_status: CC<'a>,
    pub(crate) category: [CC<'a>; 1],
    pub(crate) code: CC<'a>,
    pub(crate) subject: Ref,
    pub(crate) encounter: Ref,
    pub(crate) onset_date_time: When,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) abatement_date_time: Option<DateTime>,
    pub(crate) recorded_date: DateTime,
    pub(crate) asserter: Ref,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Component<'a> {
    pub(crate) code: CC<'a>,
    pub(crate) value_quantity: Quantity<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReferenceRange<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) low: Option<Quantity<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) high: Option<Quantity<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) text: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Observation<'a> {
    pub(crate) resource_type: &'static str,
    pub(crate) id: Id,
    pub(crate) status: &'static str,
    pub(crate) category: [CC<'a>; 1],
    pub(crate) code: CC<'a>,
    pub(crate) subject: Ref,
    pub(crate) encounter: Ref,
    pub(crate) effective_date_time: DateTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) issued: Option<DateTime>,
    pub(crate) performer: [Ref; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) value_quantity: Option<Quantity<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) interpretation: Option<[CC<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reference_range: Option<[ReferenceRange<'a>; 1]>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) component: Vec<Component<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DiagnosticReport<'a> {
    pub(crate) resource_type: &'static str,
    pub(crate) id: Id,
    pub(crate) status: &'static str,
    pub(crate) category: [CC<'a>; 1],
    pub(crate) code: CC<'a>,
    pub(crate) subject: Ref,
    pub(crate) encounter: Ref,
    pub(crate) effective_date_time: DateTime,
    pub(crate) issued: DateTime,
    pub(crate) performer: [Ref; 1],
    pub(crate) result: Vec<Ref>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Repeat<'a> {
    pub(crate) bounds_duration: Quantity<'a>,
    pub(crate) frequency: u32,
    pub(crate) period: Num,
    pub(crate) period_unit: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Timing<'a> {
    pub(crate) repeat: Repeat<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DoseAndRate<'a> {
    pub(crate) dose_quantity: Quantity<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Dosage<'a> {
    pub(crate) sequence: u32,
    pub(crate) text: &'a str,
    pub(crate) timing: Timing<'a>,
    pub(crate) route: CC<'a>,
    pub(crate) dose_and_rate: [DoseAndRate<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DispenseRequest<'a> {
    pub(crate) quantity: Quantity<'a>,
    pub(crate) expected_supply_duration: Quantity<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MedicationRequest<'a> {
    pub(crate) resource_type: &'static str,
    pub(crate) id: Id,
    pub(crate) status: &'static str,
    pub(crate) intent: &'static str,
    pub(crate) category: [CC<'a>; 1],
    pub(crate) medication_codeable_concept: CC<'a>,
    pub(crate) subject: Ref,
    pub(crate) encounter: Ref,
    pub(crate) authored_on: DateTime,
    pub(crate) requester: Ref,
    pub(crate) reason_code: [CC<'a>; 1],
    pub(crate) reason_reference: [Ref; 1],
    pub(crate) dosage_instruction: [Dosage<'a>; 1],
    pub(crate) dispense_request: DispenseRequest<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Reaction<'a> {
    pub(crate) manifestation: [CC<'a>; 1],
    pub(crate) severity: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AllergyIntolerance<'a> {
    pub(crate) resource_type: &'static str,
    pub(crate) id: Id,
    pub(crate) clinical_status: CC<'a>,
    pub(crate) verification_status: CC<'a>,
    #[serde(rename = "type")]
    pub(crate) type_: &'static str,
    pub(crate) category: [&'static str; 1],
    pub(crate) criticality: &'static str,
    pub(crate) code: CC<'a>,
    pub(crate) patient: Ref,
    pub(crate) recorded_date: DateTime,
    pub(crate) recorder: Ref,
    pub(crate) reaction: [Reaction<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ImmPerformer<'a> {
    pub(crate) function: CC<'a>,
    pub(crate) actor: Ref,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ProtocolApplied<'a> {
    pub(crate) series: &'a str,
    pub(crate) dose_number_positive_int: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Immunization<'a> {
    pub(crate) resource_type: &'static str,
    pub(crate) id: Id,
    pub(crate) status: &'static str,
    pub(crate) vaccine_code: CC<'a>,
    pub(crate) patient: Ref,
    pub(crate) occurrence_date_time: When,
    pub(crate) primary_source: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) report_origin: Option<CC<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) location: Option<Ref>,
    pub(crate) lot_number: &'a str,
    pub(crate) route: CC<'a>,
    pub(crate) dose_quantity: Quantity<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) performer: Option<[ImmPerformer<'a>; 1]>,
    pub(crate) protocol_applied: [ProtocolApplied<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ServiceRequest<'a> {
    pub(crate) resource_type: &'static str,
    pub(crate) id: Id,
    pub(crate) status: &'static str,
    pub(crate) intent: &'static str,
    pub(crate) category: [CC<'a>; 1],
    pub(crate) priority: &'static str,
    pub(crate) code: CC<'a>,
    pub(crate) subject: Ref,
    pub(crate) encounter: Ref,
    pub(crate) authored_on: DateTime,
    pub(crate) requester: Ref,
    pub(crate) performer: [Ref; 1],
    pub(crate) reason_code: [CC<'a>; 1],
    pub(crate) reason_reference: [Ref; 1],
    pub(crate) note: [Annotation<'a>; 1],
}

#[cfg(test)]
mod tests {
    use super::{Id, Num};
    use crate::rng::Rng;

    #[test]
    fn ids_are_uuid_v4_shaped() {
        let mut rng = Rng::new(1, 0);
        for _ in 0..100 {
            let id = Id::random(&mut rng);
            let s = id.as_str();
            assert_eq!(s.len(), 36);
            assert_eq!(&s[14..15], "4");
            assert!(matches!(&s[19..20], "8" | "9" | "a" | "b"));
            assert_eq!(s.matches('-').count(), 4);
        }
    }

    #[test]
    fn numbers_have_fixed_decimals() {
        assert_eq!(Num::fixed(72.5, 1).to_string(), "72.5");
        assert_eq!(Num::fixed(72.0, 1).to_string(), "72.0");
        assert_eq!(Num::fixed(0.9249, 2).to_string(), "0.92");
        assert_eq!(Num::fixed(-0.05, 1).to_string(), "-0.1");
        assert_eq!(Num::int(104).to_string(), "104");
        assert_eq!(
            serde_json::to_string(&Num::fixed(3.456, 2)).unwrap(),
            "3.46"
        );
        assert_eq!(serde_json::to_string(&Num::int(104)).unwrap(), "104");
    }
}
