//! Everyday Mexican Spanish for CIE-10 codes ("presión alta" → I10, "chorro" → A09), the table
//! in `data/cie10-synonyms.tsv`. Written and reviewed for Expediente; tests check that every
//! code exists in the catalogue and is reportable.

use std::sync::LazyLock;

use crate::text;

/// The table, compiled in.
const TSV: &str = include_str!("../../data/cie10-synonyms.tsv");

/// One everyday term and the codes it most likely means, most likely first.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Synonym {
    /// The term as people say it (`presión alta`).
    pub term: &'static str,
    /// Dotted CIE-10 codes.
    pub codes: Vec<&'static str>,
    /// The term folded for search (`presion alta`).
    #[serde(skip)]
    pub(super) folded: String,
}

pub(super) static SYNONYMS: LazyLock<Vec<Synonym>> = LazyLock::new(|| {
    TSV.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| {
            let (term, codes) = line.split_once('\t')?;
            Some(Synonym {
                term,
                codes: codes.split(',').map(str::trim).collect(),
                folded: text::search_fold(term),
            })
        })
        .collect()
});

/// The whole synonyms table, in file order (grouped by body system).
pub fn synonyms() -> &'static [Synonym] {
    &SYNONYMS
}
