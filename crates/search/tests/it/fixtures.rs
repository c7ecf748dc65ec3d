//! Loading the Synthea fixtures shared by the team (`../shared/fixtures/synthea/`).

use std::io::Read;
use std::path::PathBuf;

use fhir::json::{Json, parse_str};

pub fn synthea_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/synthea")
}

/// All resources of a transaction bundle file under `bundles/`.
pub fn bundle(name: &str) -> Vec<Json> {
    let path = synthea_dir().join("bundles").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let bundle = parse_str(&text).unwrap();
    bundle
        .get("entry")
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.get("resource").unwrap().clone())
        .collect()
}

/// All bundles' resources.
pub fn all_bundles() -> Vec<Json> {
    let mut names: Vec<_> = std::fs::read_dir(synthea_dir().join("bundles"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names.iter().flat_map(|n| bundle(n)).collect()
}

/// Resources of a gzip NDJSON file under `ndjson/bulk-10-patients/`, decompressed with the
/// system `gzip` (the crate has no decompression dependency).
pub fn ndjson(name: &str) -> Vec<Json> {
    let path = synthea_dir().join("ndjson/bulk-10-patients").join(name);
    let mut child = std::process::Command::new("gzip")
        .arg("-dc")
        .arg(&path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut text = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    child.wait().unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| parse_str(l).unwrap())
        .collect()
}

pub const AGUSTIN: &str = "Agustin_Fonseca_cb5696d9-a0de-4f49-94f9-433f96a28eb0.json";

pub fn first_of(resources: &[Json], rtype: &str) -> Json {
    resources
        .iter()
        .find(|r| r.get("resourceType").and_then(Json::as_str) == Some(rtype))
        .unwrap_or_else(|| panic!("no {rtype}"))
        .clone()
}
