//! Where generated resources go: one NDJSON file per resource type, or one transaction Bundle per patient.
//!
//! Resources are serialized into per-type buffers first and flushed to the files after each patient.
//! That keeps the file order by type (all of a patient's Observations together) and lets bundle mode
//! assemble a patient's Bundle in dependency order from the same buffers. Memory is one patient's worth
//! of JSON plus the 64 KiB `BufWriter`s, whatever N is.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::Error;
use crate::fhir::Id;

/// The resource types written, in dependency order: a file only references types listed before it
/// (plus its own), so importing files in this order never meets a dangling reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Organization,
    Location,
    Practitioner,
    PractitionerRole,
    Patient,
    Encounter,
    Condition,
    Observation,
    DiagnosticReport,
    MedicationRequest,
    ServiceRequest,
    AllergyIntolerance,
    Immunization,
}

pub(crate) const KINDS: [Kind; 13] = [
    Kind::Organization,
    Kind::Location,
    Kind::Practitioner,
    Kind::PractitionerRole,
    Kind::Patient,
    Kind::Encounter,
    Kind::Condition,
    Kind::Observation,
    Kind::DiagnosticReport,
    Kind::MedicationRequest,
    Kind::ServiceRequest,
    Kind::AllergyIntolerance,
    Kind::Immunization,
];

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Organization => "Organization",
            Kind::Location => "Location",
            Kind::Practitioner => "Practitioner",
            Kind::PractitionerRole => "PractitionerRole",
            Kind::Patient => "Patient",
            Kind::Encounter => "Encounter",
            Kind::Condition => "Condition",
            Kind::Observation => "Observation",
            Kind::DiagnosticReport => "DiagnosticReport",
            Kind::MedicationRequest => "MedicationRequest",
            Kind::ServiceRequest => "ServiceRequest",
            Kind::AllergyIntolerance => "AllergyIntolerance",
            Kind::Immunization => "Immunization",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// Network resources are always written to their own files, even in bundle mode.
    fn is_network(self) -> bool {
        self <= Kind::PractitionerRole
    }
}

/// Buffer size of each output file; large enough that writes are rare, small enough for 14 files.
const FILE_BUFFER_BYTES: usize = 1 << 16;

struct OutFile {
    path: PathBuf,
    writer: BufWriter<File>,
    bytes: u64,
    lines: u64,
}

impl OutFile {
    fn create(path: PathBuf) -> Result<OutFile, Error> {
        let file = File::create(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        Ok(OutFile {
            path,
            writer: BufWriter::with_capacity(FILE_BUFFER_BYTES, file),
            bytes: 0,
            lines: 0,
        })
    }

    fn write(&mut self, data: &[u8], lines: u64) -> Result<(), Error> {
        self.writer.write_all(data).map_err(|source| Error::Io {
            path: self.path.clone(),
            source,
        })?;
        self.bytes += data.len() as u64;
        self.lines += lines;
        Ok(())
    }

    fn finish(mut self) -> Result<(String, u64, u64), Error> {
        self.writer.flush().map_err(|source| Error::Io {
            path: self.path.clone(),
            source,
        })?;
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok((name, self.bytes, self.lines))
    }
}

/// Sizes of what was written.
pub(crate) struct Written {
    /// Resources per type (also those inside Bundles).
    pub(crate) resources: [u64; 13],
    /// (file name, bytes, lines) per file, in writing order.
    pub(crate) files: Vec<(String, u64, u64)>,
    pub(crate) bundles: u64,
}

/// The destination of all resources.
pub(crate) struct Sink {
    bundles: bool,
    files: Vec<Option<OutFile>>,
    bundle_file: Option<OutFile>,
    buffers: Vec<Vec<u8>>,
    pending: [u64; 13],
    resources: [u64; 13],
    n_bundles: u64,
}

impl Sink {
    pub(crate) fn create(dir: &Path, bundles: bool) -> Result<Sink, Error> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut files = Vec::with_capacity(KINDS.len());
        for kind in KINDS {
            if bundles && !kind.is_network() {
                files.push(None);
            } else {
                files.push(Some(OutFile::create(
                    dir.join(format!("{}.ndjson", kind.name())),
                )?));
            }
        }
        let bundle_file = if bundles {
            Some(OutFile::create(dir.join("Bundle.ndjson"))?)
        } else {
            None
        };
        Ok(Sink {
            bundles,
            files,
            bundle_file,
            buffers: vec![Vec::with_capacity(1 << 14); KINDS.len()],
            pending: [0; 13],
            resources: [0; 13],
            n_bundles: 0,
        })
    }

    /// Serializes one resource into its type's buffer.
    pub(crate) fn emit<T: Serialize>(
        &mut self,
        kind: Kind,
        id: Id,
        resource: &T,
    ) -> Result<(), Error> {
        let in_bundle = self.bundles && !kind.is_network();
        let buf = &mut self.buffers[kind.index()];
        if in_bundle {
            buf.extend_from_slice(b",{\"fullUrl\":\"urn:uuid:");
            buf.extend_from_slice(id.as_str().as_bytes());
            buf.extend_from_slice(b"\",\"resource\":");
        }
        serde_json::to_writer(&mut *buf, resource).map_err(Error::Serialize)?;
        if in_bundle {
            buf.extend_from_slice(b",\"request\":{\"method\":\"PUT\",\"url\":\"");
            buf.extend_from_slice(kind.name().as_bytes());
            buf.push(b'/');
            buf.extend_from_slice(id.as_str().as_bytes());
            buf.extend_from_slice(b"\"}}");
        } else {
            buf.push(b'\n');
        }
        self.pending[kind.index()] += 1;
        self.resources[kind.index()] += 1;
        Ok(())
    }

    /// Writes the buffered resources of one patient (or of the network): to the per-type files, or as
    /// one transaction Bundle with id `bundle_id`.
    pub(crate) fn flush(&mut self, bundle_id: Option<Id>) -> Result<(), Error> {
        let mut bundle_open = false;
        for kind in KINDS {
            let i = kind.index();
            if self.buffers[i].is_empty() {
                continue;
            }
            if self.bundles && !kind.is_network() {
                if let (Some(file), Some(id)) = (self.bundle_file.as_mut(), bundle_id) {
                    if !bundle_open {
                        file.write(b"{\"resourceType\":\"Bundle\",\"id\":\"", 0)?;
                        file.write(id.as_str().as_bytes(), 0)?;
                        file.write(b"\",\"type\":\"transaction\",\"entry\":[", 0)?;
                        // Skip the leading comma of the first entry.
                        file.write(&self.buffers[i][1..], 0)?;
                        bundle_open = true;
                    } else {
                        file.write(&self.buffers[i], 0)?;
                    }
                }
            } else if let Some(file) = self.files[i].as_mut() {
                file.write(&self.buffers[i], self.pending[i])?;
            }
            self.buffers[i].clear();
            self.pending[i] = 0;
        }
        if bundle_open {
            if let Some(file) = self.bundle_file.as_mut() {
                file.write(b"]}\n", 1)?;
            }
            self.n_bundles += 1;
        }
        Ok(())
    }

    pub(crate) fn finish(self) -> Result<Written, Error> {
        let mut files = Vec::new();
        for file in self.files.into_iter().flatten() {
            files.push(file.finish()?);
        }
        if let Some(file) = self.bundle_file {
            files.push(file.finish()?);
        }
        Ok(Written {
            resources: self.resources,
            files,
            bundles: self.n_bundles,
        })
    }
}
