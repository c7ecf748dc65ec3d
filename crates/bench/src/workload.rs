//! "A morning at a busy health center": N clinicians, each repeating a visit —
//! check-in (find the patient by CURP or by name, open an Encounter), chart open
//! (`$everything`), consultation written (one transaction with vital signs, a diagnosis and a
//! prescription). Run over HTTP against the real server and, as the baseline, through the same
//! `ehr` calls inside this process.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::data::{CURP_SYSTEM, Dataset, PatientKey, encode};
use crate::http::Client;
use crate::load::{Stats, parallel_for};
use crate::rng::Rng;

/// Share of check-ins that find the patient by CURP (the rest by name: no CURP at hand).
const CHECK_IN_BY_CURP_SHARE: f64 = 0.7;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    CheckIn,
    OpenEncounter,
    ChartOpen,
    Consultation,
}

pub const OPS: [Op; 4] = [
    Op::CheckIn,
    Op::OpenEncounter,
    Op::ChartOpen,
    Op::Consultation,
];

impl Op {
    pub fn label(self) -> &'static str {
        match self {
            Op::CheckIn => "check-in search (CURP or name)",
            Op::OpenEncounter => "create Encounter",
            Op::ChartOpen => "chart open ($everything)",
            Op::Consultation => "consultation transaction (vitals, Condition, MedicationRequest)",
        }
    }
}

/// What one visit needs to say, whatever the transport.
pub trait Clinic: Sync {
    /// Runs a Patient search; returns the first match's id.
    fn search_patient(&self, worker: usize, query: &str) -> anyhow::Result<Option<String>>;
    /// Creates an Encounter; returns its id.
    fn create_encounter(&self, worker: usize, encounter: &str) -> anyhow::Result<String>;
    /// Opens a chart; returns how many resources came back.
    fn everything(&self, worker: usize, patient_id: &str) -> anyhow::Result<usize>;
    fn transaction(&self, worker: usize, bundle: &str) -> anyhow::Result<()>;
}

#[derive(Clone, Debug, Default)]
pub struct MixResult {
    pub visits: u64,
    pub seconds: f64,
    /// Every operation's latency (ms).
    pub latencies: Vec<(Op, f64)>,
}

impl MixResult {
    pub fn ops(&self) -> u64 {
        self.latencies.len() as u64
    }
    pub fn ops_rate(&self) -> f64 {
        self.ops() as f64 / self.seconds.max(1e-9)
    }
    pub fn stats(&self, op: Op) -> Stats {
        Stats::of(
            self.latencies
                .iter()
                .filter(|(o, _)| *o == op)
                .map(|(_, ms)| *ms)
                .collect(),
        )
    }
    /// Adds another run of the same workload (rounds of an interleaved comparison).
    pub fn merge(&mut self, other: MixResult) {
        self.visits += other.visits;
        self.seconds += other.seconds;
        self.latencies.extend(other.latencies);
    }
}

/// Runs visits with `clinicians` concurrent workers for `duration`.
pub fn run(
    clinic: &dyn Clinic,
    data: &Dataset,
    clinicians: usize,
    duration: Duration,
    seed: u64,
) -> anyhow::Result<MixResult> {
    if data.patients.is_empty() {
        bail!("no patients to see");
    }
    let latencies: Vec<Mutex<Vec<(Op, f64)>>> =
        (0..clinicians).map(|_| Mutex::new(Vec::new())).collect();
    let rngs: Vec<Mutex<Rng>> = (0..clinicians)
        .map(|idx| Mutex::new(Rng::new(seed.wrapping_add(idx as u64 * 1_000_003))))
        .collect();
    let (visits, seconds) = parallel_for(clinicians, duration, |worker, _| {
        let patient = {
            let mut rng = rngs[worker]
                .lock()
                .map_err(|_| anyhow::anyhow!("rng lock"))?;
            let idx = rng.below(data.patients.len() as u64) as usize;
            let by_curp = rng.chance(CHECK_IN_BY_CURP_SHARE);
            let uuids: Vec<String> = (0..4).map(|_| rng.uuid()).collect();
            (idx, by_curp, uuids)
        };
        let (idx, by_curp, uuids) = patient;
        let visit = visit(clinic, worker, data, &data.patients[idx], by_curp, &uuids)?;
        latencies[worker]
            .lock()
            .map_err(|_| anyhow::anyhow!("latency lock"))?
            .extend(visit);
        Ok(())
    })?;
    let mut all: Vec<(Op, f64)> = Vec::new();
    for list in latencies {
        all.extend(list.into_inner().unwrap_or_default());
    }
    Ok(MixResult {
        visits,
        seconds,
        latencies: all,
    })
}

fn timed<T>(
    out: &mut Vec<(Op, f64)>,
    op: Op,
    f: impl FnOnce() -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let started = Instant::now();
    let value = f().with_context(|| format!("{} failed", op.label()))?;
    out.push((op, started.elapsed().as_secs_f64() * 1e3));
    Ok(value)
}

fn visit(
    clinic: &dyn Clinic,
    worker: usize,
    data: &Dataset,
    patient: &PatientKey,
    by_curp: bool,
    uuids: &[String],
) -> anyhow::Result<Vec<(Op, f64)>> {
    let mut out = Vec::with_capacity(4);
    let query = match (&patient.curp, &patient.family, &patient.given) {
        (Some(curp), _, _) if by_curp => {
            format!("identifier={}", encode(&format!("{CURP_SYSTEM}|{curp}")))
        }
        (_, Some(family), Some(given)) => {
            format!("family={}&given={}", encode(family), encode(given))
        }
        (Some(curp), _, _) => format!("identifier={}", encode(&format!("{CURP_SYSTEM}|{curp}"))),
        _ => format!("_id={}", encode(&patient.id)),
    };
    let found = timed(&mut out, Op::CheckIn, || {
        clinic.search_patient(worker, &query)
    })?;
    // A name shared by several people may list someone else first; the receptionist then
    // picks the right one from the list, which is the patient we came with.
    let _ = found;
    let now = ehr::format_instant(now_ms());
    let encounter = encounter_json(data, &patient.id, &now);
    let encounter_id = timed(&mut out, Op::OpenEncounter, || {
        clinic.create_encounter(worker, &encounter)
    })?;
    let n = timed(&mut out, Op::ChartOpen, || {
        clinic.everything(worker, &patient.id)
    })?;
    if n == 0 {
        bail!("an empty chart for Patient/{}", patient.id);
    }
    let bundle = consultation_json(data, &patient.id, &encounter_id, &now, uuids);
    timed(&mut out, Op::Consultation, || {
        clinic.transaction(worker, &bundle)
    })?;
    Ok(out)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn encounter_json(data: &Dataset, patient_id: &str, now: &str) -> String {
    let provider = data
        .organization_id
        .as_ref()
        .map(|id| format!(r#","serviceProvider":{{"reference":"Organization/{id}"}}"#))
        .unwrap_or_default();
    format!(
        r#"{{"resourceType":"Encounter","status":"in-progress","class":{{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB","display":"ambulatory"}},"subject":{{"reference":"Patient/{patient_id}"}},"period":{{"start":"{now}"}}{provider}}}"#
    )
}

fn consultation_json(
    data: &Dataset,
    patient_id: &str,
    encounter_id: &str,
    now: &str,
    uuids: &[String],
) -> String {
    let subject = format!(
        r#""subject":{{"reference":"Patient/{patient_id}"}},"encounter":{{"reference":"Encounter/{encounter_id}"}}"#
    );
    let requester = data
        .practitioner_id
        .as_ref()
        .map(|id| format!(r#","requester":{{"reference":"Practitioner/{id}"}}"#))
        .unwrap_or_default();
    let vital = r#""category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs","display":"Vital Signs"}]}]"#;
    let weight = format!(
        r#"{{"resourceType":"Observation","status":"final",{vital},"code":{{"coding":[{{"system":"http://loinc.org","code":"29463-7","display":"Body weight"}}]}},{subject},"effectiveDateTime":"{now}","valueQuantity":{{"value":72.5,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}}}}"#
    );
    let pressure = format!(
        r#"{{"resourceType":"Observation","status":"final",{vital},"code":{{"coding":[{{"system":"http://loinc.org","code":"85354-9","display":"Blood pressure panel"}}]}},{subject},"effectiveDateTime":"{now}","component":[{{"code":{{"coding":[{{"system":"http://loinc.org","code":"8480-6","display":"Systolic blood pressure"}}]}},"valueQuantity":{{"value":138,"unit":"mm[Hg]","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}}},{{"code":{{"coding":[{{"system":"http://loinc.org","code":"8462-4","display":"Diastolic blood pressure"}}]}},"valueQuantity":{{"value":88,"unit":"mm[Hg]","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}}}]}}"#
    );
    let condition = format!(
        r#"{{"resourceType":"Condition","clinicalStatus":{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}}]}},"verificationStatus":{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":"confirmed"}}]}},"category":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/condition-category","code":"encounter-diagnosis"}}]}}],"code":{{"coding":[{{"system":"http://hl7.org/fhir/sid/icd-10","code":"I10","display":"Hipertensión esencial (primaria)"}}]}},{subject},"onsetDateTime":"{now}","recordedDate":"{now}"}}"#
    );
    let prescription = format!(
        r#"{{"resourceType":"MedicationRequest","status":"active","intent":"order","medicationCodeableConcept":{{"text":"Losartán 50 mg tableta"}},{subject},"authoredOn":"{now}"{requester},"dosageInstruction":[{{"sequence":1,"text":"Una tableta cada 24 horas"}}]}}"#
    );
    let entries: Vec<String> = [
        ("Observation", weight),
        ("Observation", pressure),
        ("Condition", condition),
        ("MedicationRequest", prescription),
    ]
    .iter()
    .zip(uuids)
    .map(|((resource_type, resource), uuid)| {
        format!(
            r#"{{"fullUrl":"urn:uuid:{uuid}","resource":{resource},"request":{{"method":"POST","url":"{resource_type}"}}}}"#
        )
    })
    .collect();
    format!(
        r#"{{"resourceType":"Bundle","type":"transaction","entry":[{}]}}"#,
        entries.join(",")
    )
}

/// The workload over HTTP: one keep-alive connection per clinician.
pub struct HttpClinic {
    clients: Vec<Mutex<Client>>,
}

impl HttpClinic {
    pub fn new(addr: std::net::SocketAddr, clinicians: usize) -> HttpClinic {
        HttpClinic {
            clients: (0..clinicians)
                .map(|_| Mutex::new(Client::new(addr)))
                .collect(),
        }
    }

    fn client(&self, worker: usize) -> anyhow::Result<std::sync::MutexGuard<'_, Client>> {
        self.clients[worker]
            .lock()
            .map_err(|_| anyhow::anyhow!("client lock"))
    }
}

fn expect_status(response: &crate::http::Response, wanted: &[u16]) -> anyhow::Result<()> {
    if wanted.contains(&response.status) {
        Ok(())
    } else {
        let mut text = response.text();
        text.truncate(400);
        bail!("HTTP {}: {text}", response.status)
    }
}

impl Clinic for HttpClinic {
    fn search_patient(&self, worker: usize, query: &str) -> anyhow::Result<Option<String>> {
        let response = self
            .client(worker)?
            .get(&format!("/fhir/Patient?{query}"))?;
        expect_status(&response, &[200])?;
        let text = response.text();
        Ok(
            crate::data::string_after(&text, "\"resourceType\":\"Patient\",\"id\":\"")
                .map(str::to_string),
        )
    }

    fn create_encounter(&self, worker: usize, encounter: &str) -> anyhow::Result<String> {
        let response = self
            .client(worker)?
            .post_json("/fhir/Encounter", encounter)?;
        expect_status(&response, &[201])?;
        let location = response.header("location").context("no Location")?;
        location
            .split("/Encounter/")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .map(str::to_string)
            .context("Location without an Encounter id")
    }

    fn everything(&self, worker: usize, patient_id: &str) -> anyhow::Result<usize> {
        let response = self
            .client(worker)?
            .get(&format!("/fhir/Patient/{patient_id}/$everything"))?;
        expect_status(&response, &[200])?;
        Ok(bundle_total(&response.text()).unwrap_or(0))
    }

    fn transaction(&self, worker: usize, bundle: &str) -> anyhow::Result<()> {
        let response = self.client(worker)?.post_json("/fhir", bundle)?;
        expect_status(&response, &[200])
    }
}

/// `"total":N` of a Bundle's text.
pub fn bundle_total(text: &str) -> Option<usize> {
    let at = text.find("\"total\":")? + 8;
    let digits: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The workload through `ehr` calls in this process (no HTTP, no JSON rendering of responses).
pub struct InProcessClinic {
    pub ehr: ehr::Ehr,
    /// Who the workload acts as (the HTTP workload's principal).
    pub who: ehr::Requester,
}

impl Clinic for InProcessClinic {
    fn search_patient(&self, _: usize, query: &str) -> anyhow::Result<Option<String>> {
        let request = ehr::SearchRequest {
            resource_type: "Patient".into(),
            params: ehr::parse_query_string(query),
            handling: search::Handling::Lenient,
        };
        let (page, _) = self
            .ehr
            .search(&self.who, &request)
            .map_err(crate::ehr_error)?;
        Ok(page.matches.first().map(|m| m.id.clone()))
    }

    fn create_encounter(&self, _: usize, encounter: &str) -> anyhow::Result<String> {
        let resource = fhir::json::parse_str(encounter)
            .map_err(|err| anyhow::anyhow!("{}", err.message_es()))?;
        let outcome = self
            .ehr
            .create(&self.who, "Encounter", resource, None)
            .map_err(crate::ehr_error)?;
        Ok(outcome.resource.id)
    }

    fn everything(&self, _: usize, patient_id: &str) -> anyhow::Result<usize> {
        let request = ehr::EverythingRequest {
            patient_id: patient_id.to_string(),
            ..ehr::EverythingRequest::default()
        };
        Ok(self
            .ehr
            .everything(&self.who, &request)
            .map_err(crate::ehr_error)?
            .len())
    }

    fn transaction(&self, _: usize, bundle: &str) -> anyhow::Result<()> {
        let bundle =
            fhir::json::parse_str(bundle).map_err(|err| anyhow::anyhow!("{}", err.message_es()))?;
        self.ehr
            .process_bundle(&self.who, &bundle, false)
            .map_err(crate::ehr_error)?;
        Ok(())
    }
}
