//! The data every figure is measured on: a synthetic population written by `synth` as NDJSON,
//! scanned once for what the loads need (ids to read, CURPs and names to search, the patients
//! whose charts `$everything` opens), and padded so that a few charts hold ~500 resources.
//!
//! The scan reads the NDJSON text, not the store, so that the same ids feed every server (ours,
//! the in-process baselines and the peer) and nothing here depends on the store's schema.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::rng::Rng;

/// Average resources the generator writes per patient (~150, see `synth`), used to turn a
/// requested number of resources into a number of patients.
pub const RESOURCES_PER_PATIENT: u64 = 150;

/// The size of the charts `$everything` is measured on (the "patient with 500 resources").
pub const CHART_RESOURCES: usize = 500;

/// A chart counts as "about 500" within this band; outside it, a smaller chart is padded.
const CHART_BAND: std::ops::RangeInclusive<usize> = 450..=600;

/// One resource kept from the scan, to be read by id.
#[derive(Clone, Debug)]
pub struct Sampled {
    pub resource_type: String,
    pub id: String,
}

/// A patient as reception desks look for them.
#[derive(Clone, Debug)]
pub struct PatientKey {
    pub id: String,
    pub curp: Option<String>,
    pub family: Option<String>,
    pub given: Option<String>,
}

/// What the loads need from the generated files.
#[derive(Debug, Default)]
pub struct Dataset {
    /// NDJSON files in import order.
    pub files: Vec<PathBuf>,
    pub resources: u64,
    pub bytes: u64,
    pub patients: Vec<PatientKey>,
    /// A uniform sample of all resources (reservoir), for reads by id.
    pub sample: Vec<Sampled>,
    /// Patients whose compartment holds about [`CHART_RESOURCES`] resources (after padding),
    /// with the number of resources that reference them (patient included).
    pub charts: Vec<(String, usize)>,
    pub organization_id: Option<String>,
    pub practitioner_id: Option<String>,
    /// Resources added to reach [`CHART_RESOURCES`] in the padded charts.
    pub padding: u64,
}

/// Resource types of the facility network, whose size does not follow the patient count.
const NETWORK_TYPES: [&str; 4] = [
    "Organization",
    "Location",
    "Practitioner",
    "PractitionerRole",
];

/// Generation passes at most when aiming at a number of resources.
const GENERATE_PASSES_MAX: usize = 3;

/// How far above the asked number of resources a generation may land.
const SCALE_TOLERANCE: f64 = 0.03;

/// Generates at least `resources` resources (at most 3 % more) into `dir`: the number of
/// patients is estimated, then corrected from what the generator wrote (the network's share
/// is large at small scales). Generation is fast (~300,000 resources/s), so a second pass costs little.
pub fn generate_resources(resources: u64, seed: u64, dir: &Path) -> anyhow::Result<u64> {
    let mut patients = (resources / RESOURCES_PER_PATIENT).max(PATIENTS_MIN);
    for _ in 0..GENERATE_PASSES_MAX {
        if dir.exists() {
            std::fs::remove_dir_all(dir)
                .with_context(|| format!("cannot empty {}", dir.display()))?;
        }
        let summary = generate(patients, seed, dir)?;
        let total = summary.total_resources();
        // At least the number asked for ("sustained over 10^6" means 10^6), a little more at most.
        if total >= resources && total as f64 <= (1.0 + SCALE_TOLERANCE) * resources as f64 {
            break;
        }
        let network: u64 = NETWORK_TYPES
            .iter()
            .filter_map(|t| summary.resources.get(*t))
            .sum();
        let per_patient = (total.saturating_sub(network) / patients).max(1);
        let next = resources
            .saturating_sub(network)
            .div_ceil(per_patient)
            .max(PATIENTS_MIN);
        if next == patients {
            break;
        }
        patients = next;
    }
    Ok(patients)
}

/// The generator's smallest population.
const PATIENTS_MIN: u64 = 10;

/// Generates `patients` patients into `dir` (deterministic for a seed).
fn generate(patients: u64, seed: u64, dir: &Path) -> anyhow::Result<synth::Summary> {
    let args = synth::GenerateArgs {
        patients,
        seed,
        out: dir.to_path_buf(),
        ..synth::GenerateArgs::default()
    };
    synth::generate_to_dir(&args, dir, &|_| {})
        .map_err(|err| anyhow::anyhow!("{}", err.message_en()))
}

/// Scans the files of `dir`, keeps a sample of `sample_size` resources, and pads `charts`
/// patients to [`CHART_RESOURCES`] resources (writing `Observation.padding.ndjson`).
pub fn scan(dir: &Path, sample_size: usize, charts: usize, seed: u64) -> anyhow::Result<Dataset> {
    let mut data = Dataset {
        files: ndjson_files(dir)?,
        ..Dataset::default()
    };
    let mut rng = Rng::new(seed ^ 0x5eed_5ca1);
    let mut referenced: HashMap<String, usize> = HashMap::new();
    for file in data.files.clone() {
        let resource_type = file_resource_type(&file).to_string();
        let reader = BufReader::with_capacity(1 << 20, open(&file)?);
        for line in reader.lines() {
            let line = line.with_context(|| format!("cannot read {}", file.display()))?;
            if line.trim().is_empty() {
                continue;
            }
            data.resources += 1;
            data.bytes += line.len() as u64 + 1;
            let Some(id) = string_after(&line, "\"id\":\"") else {
                continue;
            };
            if let Some(patient) = string_after(&line, "\"reference\":\"Patient/") {
                *referenced.entry(patient.to_string()).or_default() += 1;
            }
            match resource_type.as_str() {
                "Patient" => data.patients.push(patient_key(&line)?),
                "Organization" if data.organization_id.is_none() => {
                    data.organization_id = Some(id.to_string());
                }
                "Practitioner" if data.practitioner_id.is_none() => {
                    data.practitioner_id = Some(id.to_string());
                }
                _ => {}
            }
            // Reservoir sampling: every resource has the same chance to be read.
            let seen = data.resources as usize;
            let slot = if seen <= sample_size {
                Some(seen - 1)
            } else {
                let pick = rng.below(seen as u64) as usize;
                (pick < sample_size).then_some(pick)
            };
            if let Some(slot) = slot {
                let sampled = Sampled {
                    resource_type: resource_type.clone(),
                    id: id.to_string(),
                };
                if slot < data.sample.len() {
                    data.sample[slot] = sampled;
                } else {
                    data.sample.push(sampled);
                }
            }
        }
    }
    // Count the patient resource itself in its compartment.
    let mut sizes: Vec<(String, usize)> = data
        .patients
        .iter()
        .map(|p| {
            (
                p.id.clone(),
                referenced.get(&p.id).copied().unwrap_or(0) + 1,
            )
        })
        .collect();
    sizes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut chosen: Vec<(String, usize)> = sizes
        .iter()
        .filter(|(_, n)| CHART_BAND.contains(n))
        .take(charts)
        .cloned()
        .collect();
    let to_pad: Vec<(String, usize)> = sizes
        .iter()
        .filter(|(_, n)| *n < *CHART_BAND.start())
        .take(charts - chosen.len().min(charts))
        .cloned()
        .collect();
    if !to_pad.is_empty() {
        data.padding = pad_charts(dir, &data.files, &to_pad)?;
        data.resources += data.padding;
        let padding_file = dir.join(PADDING_FILE);
        data.bytes += std::fs::metadata(&padding_file)
            .map(|m| m.len())
            .unwrap_or(0);
        data.files = ndjson_files(dir)?;
        chosen.extend(
            to_pad
                .into_iter()
                .map(|(id, n)| (id, n.max(CHART_RESOURCES))),
        );
    }
    data.charts = chosen;
    Ok(data)
}

const PADDING_FILE: &str = "Observation.padding.ndjson";

/// Adds copies of each patient's own Observations (with new ids) until the chart holds
/// [`CHART_RESOURCES`] resources: realistic sizes and references, more of them.
fn pad_charts(dir: &Path, files: &[PathBuf], to_pad: &[(String, usize)]) -> anyhow::Result<u64> {
    let mut templates: HashMap<&str, String> = HashMap::new();
    let observations = files
        .iter()
        .find(|f| f.file_name().and_then(|n| n.to_str()) == Some("Observation.ndjson"))
        .context("the generator wrote no Observation.ndjson")?;
    let reader = BufReader::with_capacity(1 << 20, open(observations)?);
    for line in reader.lines() {
        let line = line.with_context(|| format!("cannot read {}", observations.display()))?;
        if let Some(patient) = string_after(&line, "\"reference\":\"Patient/")
            && let Some((id, _)) = to_pad.iter().find(|(id, _)| id == patient)
        {
            templates.entry(id.as_str()).or_insert(line.clone());
        }
        if templates.len() == to_pad.len() {
            break;
        }
    }
    let path = dir.join(PADDING_FILE);
    let mut out = BufWriter::new(
        File::create(&path).with_context(|| format!("cannot create {}", path.display()))?,
    );
    let mut written = 0u64;
    for (chart_idx, (patient_id, size)) in to_pad.iter().enumerate() {
        let template = templates
            .get(patient_id.as_str())
            .with_context(|| format!("patient {patient_id} has no Observation to copy"))?;
        let old_id = string_after(template, "\"id\":\"")
            .context("an Observation without id")?
            .to_string();
        for n in 0..CHART_RESOURCES.saturating_sub(*size) {
            let new_id = format!("bench-pad-{chart_idx}-{n:04}");
            let line = template.replacen(
                &format!("\"id\":\"{old_id}\""),
                &format!("\"id\":\"{new_id}\""),
                1,
            );
            writeln!(out, "{line}")?;
            written += 1;
        }
    }
    out.flush()?;
    Ok(written)
}

/// The NDJSON files of `dir` in the order `expediente import` loads them: reference data
/// first, so that references resolve, then patients, encounters and the rest.
pub fn ndjson_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("ndjson"))
        .collect();
    files.sort();
    files.sort_by_key(|p| ehr::load_order(file_resource_type(p)));
    Ok(files)
}

/// `Observation.padding.ndjson` → `Observation`.
pub fn file_resource_type(path: &Path) -> &str {
    path.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.split(['.', '-', '_']).next())
        .unwrap_or("")
}

pub fn open(path: &Path) -> anyhow::Result<File> {
    File::open(path).with_context(|| format!("cannot open {}", path.display()))
}

/// The JSON string value right after `marker` (which ends with the opening quote).
/// Generated ids and references never contain escapes, so the next quote ends the value.
pub fn string_after<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    let start = line.find(marker)? + marker.len();
    let len = line[start..].find('"')?;
    Some(&line[start..start + len])
}

fn patient_key(line: &str) -> anyhow::Result<PatientKey> {
    let value: serde_json::Value =
        serde_json::from_str(line).context("a generated Patient is not JSON")?;
    let id = value["id"].as_str().unwrap_or_default().to_string();
    let curp = value["identifier"].as_array().and_then(|ids| {
        ids.iter()
            .find(|i| i["system"].as_str() == Some(CURP_SYSTEM))
            .and_then(|i| i["value"].as_str())
            .map(str::to_string)
    });
    let name = &value["name"][0];
    Ok(PatientKey {
        id,
        curp,
        family: name["family"].as_str().map(str::to_string),
        given: name["given"][0].as_str().map(str::to_string),
    })
}

/// The CURP's identifier system (HL7 OID registry), as searched by reception desks.
pub const CURP_SYSTEM: &str = "urn:oid:2.16.840.1.113883.4.629";

/// Percent-encodes a query value.
pub fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The searches measured, as (resource type, raw query) pairs drawn from the data.
pub struct Queries {
    pub identifier: Vec<(String, String)>,
    pub name: Vec<(String, String)>,
    pub code_date: Vec<(String, String)>,
}

/// Builds `n` queries of each kind from the patients (deterministic for a seed).
pub fn queries(data: &Dataset, n: usize, seed: u64) -> Queries {
    let mut rng = Rng::new(seed ^ 0x0c0d_ec0d);
    let with_curp: Vec<&PatientKey> = data.patients.iter().filter(|p| p.curp.is_some()).collect();
    let with_family: Vec<&PatientKey> = data
        .patients
        .iter()
        .filter(|p| p.family.is_some())
        .collect();
    let mut out = Queries {
        identifier: Vec::new(),
        name: Vec::new(),
        code_date: Vec::new(),
    };
    for _ in 0..n {
        if let Some(p) = rng.pick(&with_curp) {
            let curp = p.curp.as_deref().unwrap_or_default();
            out.identifier.push((
                "Patient".into(),
                format!("identifier={}", encode(&format!("{CURP_SYSTEM}|{curp}"))),
            ));
        }
        if let Some(p) = rng.pick(&with_family) {
            out.name.push((
                "Patient".into(),
                format!("name={}", encode(p.family.as_deref().unwrap_or_default())),
            ));
        }
        if let Some(p) = rng.pick(&data.patients) {
            out.code_date.push((
                "Observation".into(),
                format!(
                    "code={}&date=ge2025-01-01&patient={}",
                    encode("http://loinc.org|2339-0"),
                    encode(&p.id)
                ),
            ));
        }
    }
    out
}
