//! The studies a health centre orders from a consultation: its first-level laboratory panel
//! and imaging ("gabinete"), each a LOINC code, written as a `ServiceRequest`. The web UI
//! offers them; `ehr::terminology` publishes them as the LOINC subset this node holds.
//!
//! Why a short fixed list: these are what a primary-care unit can send for; the codes are
//! LOINC order codes (results use their own codes, listed so that a result of the last 30 days
//! makes a new order a repeat, wherever it was done).

/// Laboratory or imaging.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StudyKind {
    Laboratory,
    Imaging,
}

impl StudyKind {
    /// `ServiceRequest.category`: SNOMED CT code and display, and the Spanish text.
    pub fn category(self) -> (&'static str, &'static str, &'static str) {
        match self {
            StudyKind::Laboratory => ("108252007", "Laboratory procedure", "Laboratorio"),
            StudyKind::Imaging => ("363679005", "Imaging", "Gabinete"),
        }
    }
}

/// A study that can be ordered.
#[derive(Clone, Copy, Debug)]
pub struct Study {
    /// LOINC code ordered.
    pub code: &'static str,
    pub es: &'static str,
    pub en: &'static str,
    pub kind: StudyKind,
    /// LOINC codes of results that make a new order a repeat.
    pub result_codes: &'static [&'static str],
}

const fn study(
    code: &'static str,
    es: &'static str,
    en: &'static str,
    kind: StudyKind,
    result_codes: &'static [&'static str],
) -> Study {
    Study {
        code,
        es,
        en,
        kind,
        result_codes,
    }
}

/// The orderable studies.
pub static STUDIES: &[Study] = &[
    study(
        "2339-0",
        "Glucosa",
        "Glucose",
        StudyKind::Laboratory,
        &["2339-0", "2345-7"],
    ),
    study(
        "4548-4",
        "Hemoglobina glucosilada (HbA1c)",
        "Glycated haemoglobin (HbA1c)",
        StudyKind::Laboratory,
        &["4548-4"],
    ),
    study(
        "24331-1",
        "Perfil de lípidos",
        "Lipid panel",
        StudyKind::Laboratory,
        &["2093-3", "2571-8", "2085-9", "13457-7"],
    ),
    study(
        "2160-0",
        "Creatinina sérica",
        "Serum creatinine",
        StudyKind::Laboratory,
        &["2160-0"],
    ),
    study(
        "58410-2",
        "Biometría hemática",
        "Complete blood count",
        StudyKind::Laboratory,
        &["718-7", "6690-2", "777-3"],
    ),
    study(
        "24356-8",
        "Examen general de orina",
        "Urinalysis",
        StudyKind::Laboratory,
        &["24356-8"],
    ),
    study(
        "3016-3",
        "Hormona estimulante de tiroides (TSH)",
        "Thyroid-stimulating hormone (TSH)",
        StudyKind::Laboratory,
        &["3016-3"],
    ),
    study(
        "36643-5",
        "Radiografía de tórax (PA y lateral)",
        "Chest X-ray (2 views)",
        StudyKind::Imaging,
        &[],
    ),
    study(
        "24606-6",
        "Mastografía de tamizaje",
        "Screening mammogram",
        StudyKind::Imaging,
        &[],
    ),
    study(
        "11525-3",
        "Ultrasonido obstétrico",
        "Obstetric ultrasound",
        StudyKind::Imaging,
        &[],
    ),
    study(
        "11524-6",
        "Electrocardiograma",
        "Electrocardiogram",
        StudyKind::Imaging,
        &[],
    ),
];

pub fn study_by_code(code: &str) -> Option<&'static Study> {
    STUDIES.iter().find(|s| s.code == code)
}
