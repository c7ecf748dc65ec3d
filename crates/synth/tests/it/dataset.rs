//! The shared test population: generated once, parsed once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;

/// Patients in the shared population: enough for prevalences among ~1,300 adults to be within a few
/// points of their targets, small enough for a debug build (~15 s).
pub const PATIENTS: u64 = 2_000;

pub struct Dataset {
    pub summary: synth::Summary,
    /// Resources per type, in file order.
    pub by_type: BTreeMap<String, Vec<Value>>,
    /// File name → raw bytes, for byte-level checks.
    pub raw: BTreeMap<String, Vec<u8>>,
    _tmp: tempfile::TempDir,
}

pub fn args(patients: u64, seed: u64) -> synth::GenerateArgs {
    synth::GenerateArgs {
        patients,
        seed,
        ..synth::GenerateArgs::default()
    }
}

pub fn read_dir(dir: &Path) -> (BTreeMap<String, Vec<Value>>, BTreeMap<String, Vec<u8>>) {
    let mut by_type: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut raw = BTreeMap::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for path in names {
        let bytes = std::fs::read(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let value: Value = serde_json::from_slice(line).unwrap();
            let ty = value["resourceType"].as_str().unwrap().to_owned();
            by_type.entry(ty).or_default().push(value);
        }
        raw.insert(name, bytes);
    }
    (by_type, raw)
}

pub fn dataset() -> &'static Dataset {
    static DATASET: OnceLock<Dataset> = OnceLock::new();
    DATASET.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let summary = synth::generate_to_dir(&args(PATIENTS, 1), &dir, &|_| {}).unwrap();
        let (by_type, raw) = read_dir(&dir);
        Dataset {
            summary,
            by_type,
            raw,
            _tmp: tmp,
        }
    })
}

impl Dataset {
    pub fn of(&self, ty: &str) -> &[Value] {
        self.by_type.get(ty).map(Vec::as_slice).unwrap_or(&[])
    }
}
