//! `synth`: a deterministic, streaming generator of a realistic synthetic Mexican population as FHIR R4
//! NDJSON, for `expediente generate`, the demo, every test that needs patients, and the benchmarks.
//!
//! Key decisions:
//! - **Same seed, same bytes, on any machine.** All randomness comes from ChaCha8 streams seeded from
//!   `--seed` (stream 0 for the network, stream `i + 1` for patient `i`, so a patient does not change when
//!   code that draws for another one changes). Distributions avoid libm (see [`rng`]); decimals are
//!   written with fixed digits (see [`fhir::Num`]); no clock is read (`--end-date` has a fixed default);
//!   no hash map is iterated to produce output.
//! - **Streaming.** The network (O(facilities)) is built and written first; then patients are generated
//!   one at a time and written through buffered files. Memory does not grow with `--patients`, except
//!   the bounded CURP registry ([`identity`]) that keeps CURPs unique.
//! - **Realism is the product.** Every rate and table is documented with its source in `README.md`
//!   (in this crate's folder): names and surnames, the 2020 population pyramid, state populations,
//!   ENSANUT prevalences, the national vaccination schedule, the Cuadro Básico.
//!
//! Files are written in dependency order (`Organization`, `Location`, `Practitioner`,
//! `PractitionerRole`, `Patient`, `Encounter`, `Condition`, `Observation`, `DiagnosticReport`,
//! `MedicationRequest`, `ServiceRequest`, `AllergyIntolerance`, `Immunization`): each file only references
//! resources of the files before it or of itself. References are literal `Type/id`; ids are UUID-shaped
//! and assigned here, so an importer that keeps ids keeps the references valid.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod data;
mod date;
mod emit;
mod fhir;
mod identity;
mod network;
mod output;
mod patient;
mod rng;

/// Arguments of `expediente generate`.
#[derive(Debug, Clone, clap::Args)]
pub struct GenerateArgs {
    /// Number of patients to generate (10 to 10,000,000; memory does not depend on it).
    #[arg(long, default_value_t = 1000)]
    pub patients: u64,
    /// Seed of the random streams: the same seed gives the same bytes on any machine.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output directory (created if missing); one `<Type>.ndjson` per resource type.
    #[arg(long, default_value = "synthetic")]
    pub out: PathBuf,
    /// Write one transaction Bundle per patient to `Bundle.ndjson` instead of per-type patient files
    /// (the network still goes to its own per-type files, to be imported first).
    #[arg(long)]
    pub bundles: bool,
    /// Share of patients registered without a CURP (a folio and the `curp-pendiente` extension instead).
    #[arg(long, default_value_t = 0.05)]
    pub no_curp_share: f64,
    /// Health centres per state on average (spread by population). Default: one centre per 1,000
    /// patients, at least three per state, at most 14,000 in total.
    #[arg(long)]
    pub facilities_per_state: Option<u64>,
    /// Years of clinical history before `--end-date`.
    #[arg(long, default_value_t = 5)]
    pub years_of_history: u32,
    /// Last day of the history (exclusive), `YYYY-MM-DD`. Fixed by default so that output never depends
    /// on today's date.
    #[arg(long, default_value = "2026-11-01")]
    pub end_date: String,
    /// Put the whole population in K health centres of one state (chosen by the seed, weighted by
    /// population), with that state's hospitals: the small demo network.
    #[arg(long)]
    pub clinics: Option<u64>,
}

impl Default for GenerateArgs {
    fn default() -> GenerateArgs {
        GenerateArgs {
            patients: 1000,
            seed: 1,
            out: PathBuf::from("synthetic"),
            bundles: false,
            no_curp_share: 0.05,
            facilities_per_state: None,
            years_of_history: 5,
            end_date: "2026-11-01".to_owned(),
            clinics: None,
        }
    }
}

/// What a run produced.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub patients: u64,
    /// Resources per FHIR type (including those inside Bundles).
    pub resources: BTreeMap<String, u64>,
    /// Bytes per output file name.
    pub file_bytes: BTreeMap<String, u64>,
    /// Total bytes written.
    pub bytes: u64,
    /// Transaction Bundles written (`--bundles` only).
    pub bundles: u64,
    /// Health facilities (each one Organization and one Location).
    pub facilities: u64,
    pub practitioners: u64,
    pub patients_without_curp: u64,
    /// Laboratory reports that repeat a report with the same LOINC code for the same patient, issued by a
    /// different organization at most [`REDUNDANT_WINDOW_DAYS`] days earlier: the redundant tests the
    /// record should help avoid.
    pub redundant_lab_repeats: u64,
}

/// The window in which a repeated laboratory report counts as redundant.
pub const REDUNDANT_WINDOW_DAYS: i64 = 14;

impl Summary {
    pub fn total_resources(&self) -> u64 {
        self.resources.values().sum()
    }
}

/// Why a generation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid value for --{name}: {reason_en}")]
    InvalidArgument {
        name: &'static str,
        reason_en: String,
        reason_es: String,
    },
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot serialize a resource: {0}")]
    Serialize(serde_json::Error),
}

impl Error {
    /// The message for operators, in English.
    pub fn message_en(&self) -> String {
        self.to_string()
    }

    /// The message for operators, in Spanish (es-MX).
    pub fn message_es(&self) -> String {
        match self {
            Error::InvalidArgument {
                name, reason_es, ..
            } => format!("valor inválido para --{name}: {reason_es}"),
            Error::Io { path, source } => {
                format!("no se pudo escribir {}: {source}", path.display())
            }
            Error::Serialize(e) => format!("no se pudo serializar un recurso: {e}"),
        }
    }
}

/// Limits accepted for the arguments (beyond them the figures stop meaning anything).
const PATIENTS_MAX: u64 = 100_000_000;
const YEARS_OF_HISTORY_MAX: u32 = 30;

/// Validated settings.
pub(crate) struct Config {
    pub(crate) patients: u64,
    pub(crate) seed: u64,
    pub(crate) bundles: bool,
    pub(crate) no_curp_share: f64,
    pub(crate) network_size: network::Size,
    pub(crate) start: date::Day,
    pub(crate) end: date::Day,
}

fn invalid(name: &'static str, en: impl Into<String>, es: impl Into<String>) -> Error {
    Error::InvalidArgument {
        name,
        reason_en: en.into(),
        reason_es: es.into(),
    }
}

impl Config {
    fn from_args(args: &GenerateArgs) -> Result<Config, Error> {
        if args.patients > PATIENTS_MAX {
            return Err(invalid(
                "patients",
                format!("at most {PATIENTS_MAX}"),
                format!("como máximo {PATIENTS_MAX}"),
            ));
        }
        if !(0.0..=1.0).contains(&args.no_curp_share) {
            return Err(invalid(
                "no-curp-share",
                "must be between 0 and 1",
                "debe estar entre 0 y 1",
            ));
        }
        if args.years_of_history == 0 || args.years_of_history > YEARS_OF_HISTORY_MAX {
            return Err(invalid(
                "years-of-history",
                format!("must be between 1 and {YEARS_OF_HISTORY_MAX}"),
                format!("debe estar entre 1 y {YEARS_OF_HISTORY_MAX}"),
            ));
        }
        let end = date::parse_date(&args.end_date).ok_or_else(|| {
            invalid(
                "end-date",
                "expected a date as YYYY-MM-DD",
                "se esperaba una fecha AAAA-MM-DD",
            )
        })?;
        let (end_year, _, _) = date::civil_from_days(end);
        if !(2000..=2090).contains(&end_year) {
            return Err(invalid(
                "end-date",
                "year must be between 2000 and 2090",
                "el año debe estar entre 2000 y 2090",
            ));
        }
        let network_size = match (args.clinics, args.facilities_per_state) {
            (Some(0), _) => {
                return Err(invalid(
                    "clinics",
                    "must be at least 1",
                    "debe ser al menos 1",
                ));
            }
            (Some(k), _) => network::Size::Clinics(k),
            (None, Some(0)) => {
                return Err(invalid(
                    "facilities-per-state",
                    "must be at least 1",
                    "debe ser al menos 1",
                ));
            }
            (None, Some(f)) => network::Size::Centres(f.saturating_mul(32)),
            (None, None) => {
                network::Size::Centres(args.patients.div_ceil(network::PATIENTS_PER_CENTRE))
            }
        };
        Ok(Config {
            patients: args.patients,
            seed: args.seed,
            bundles: args.bundles,
            no_curp_share: args.no_curp_share,
            network_size,
            start: date::add_months(end, -12 * i64::from(args.years_of_history)),
            end,
        })
    }
}

/// Generates the population described by `args` into `args.out`.
/// `progress` is called with the number of patients done, every few hundred patients and at the end.
pub fn generate(args: &GenerateArgs, progress: &dyn Fn(u64)) -> Result<Summary, Error> {
    generate_to_dir(args, &args.out, progress)
}

/// Like [`generate`], but writes into `dir` whatever `args.out` says (handy for tests).
pub fn generate_to_dir(
    args: &GenerateArgs,
    dir: &Path,
    progress: &dyn Fn(u64),
) -> Result<Summary, Error> {
    let config = Config::from_args(args)?;
    emit::run(&config, dir, progress)
}

#[cfg(test)]
mod tests {
    use super::{Config, GenerateArgs};

    #[test]
    fn bad_arguments_are_reported_in_both_languages() {
        let args = GenerateArgs {
            end_date: "2026-13-01".to_owned(),
            ..GenerateArgs::default()
        };
        let err = Config::from_args(&args).err().unwrap();
        assert!(err.message_en().contains("end-date"));
        assert!(err.message_es().contains("AAAA-MM-DD"));
        let args = GenerateArgs {
            no_curp_share: 1.5,
            ..GenerateArgs::default()
        };
        assert!(Config::from_args(&args).is_err());
        let args = GenerateArgs {
            clinics: Some(0),
            ..GenerateArgs::default()
        };
        assert!(Config::from_args(&args).is_err());
    }
}
