//! The catalogue: the generated Spanish CIE-10 titles (`data/cie10.tsv`), the few codes the
//! source lacks, and the primary-care codes that search ranks first.
//!
//! The TSV is compiled in with `include_str!` and parsed once, on first use, into entries whose
//! strings borrow from it (so every `&'static Cie10Entry` handed out lives as long as the program).
//! Parsing 14,000 lines takes about a millisecond; a generated Rust array would cost compile time
//! on every build of the workspace instead.

use std::sync::LazyLock;

use super::limits;
use super::{Cie10Entry, Origin};

/// The generated catalogue (see `crates/mexico/data/README.md` for its source and licence).
const TSV: &str = include_str!("../../data/cie10.tsv");

/// Codes the source package (a 2019 scrape of the WHO 2008-era Spanish edition) does not carry
/// but Mexican primary care uses, with the WHO title in the OPS Spanish wording. Ours, reviewed.
const ADDITIONS: &[(&str, &str)] = &[
    ("U07", "Uso de emergencia de U07"),
    ("U07.1", "COVID-19, virus identificado"),
    ("U07.2", "COVID-19, virus no identificado"),
];

/// The codes that fill Mexican primary care (the former built-in catalogue of 240 codes, chosen
/// from SUIVE morbidity and the programmes of NOM-007/015/031): search ranks them first among
/// title matches. Sorted; a test checks that each is in the catalogue.
pub(super) const PRIMARY_CARE: &[&str] = &[
    "A01.0", "A06.0", "A07.1", "A09", "A15.0", "A16.2", "A37.9", "A38", "A46", "A53.9", "A54.9",
    "A59.0", "A60.0", "A63.0", "A90", "A91", "A92.0", "B01.9", "B02.9", "B05.9", "B06.9", "B07",
    "B08.4", "B15.9", "B16.9", "B18.2", "B24", "B26.9", "B35.0", "B35.1", "B35.3", "B35.4",
    "B36.0", "B37.0", "B37.3", "B77.9", "B80", "B82.9", "B85.0", "B86", "C16.9", "C18.9", "C50.9",
    "C53.9", "C61", "D25.9", "D50.9", "D64.9", "E03.9", "E05.9", "E10.9", "E11.0", "E11.1",
    "E11.2", "E11.3", "E11.4", "E11.5", "E11.6", "E11.7", "E11.8", "E11.9", "E14.9", "E16.2",
    "E28.2", "E43", "E44.0", "E44.1", "E46", "E55.9", "E66.0", "E66.9", "E78.0", "E78.1", "E78.2",
    "E78.5", "E79.0", "E86", "F10.2", "F17.2", "F32.0", "F32.1", "F32.2", "F32.9", "F33.9",
    "F41.0", "F41.1", "F41.2", "F41.9", "F43.2", "F51.0", "F90.0", "G40.9", "G43.9", "G44.2",
    "G56.0", "H00.0", "H10.0", "H10.9", "H25.9", "H40.9", "H52.1", "H52.4", "H60.9", "H61.2",
    "H66.9", "I10", "I11.9", "I20.9", "I21.9", "I25.9", "I50.0", "I50.9", "I63.9", "I64", "I83.9",
    "I95.9", "J00", "J01.9", "J02.0", "J02.9", "J03.0", "J03.9", "J04.0", "J05.0", "J06.9",
    "J10.1", "J11.1", "J15.9", "J18.9", "J20.9", "J21.9", "J30.4", "J32.9", "J40", "J44.9",
    "J45.0", "J45.9", "J46", "K02.1", "K02.9", "K04.0", "K05.0", "K05.1", "K12.0", "K21.9",
    "K29.7", "K30", "K40.9", "K42.9", "K52.9", "K58.9", "K59.0", "K74.6", "K76.0", "K80.2",
    "K81.1", "L01.0", "L02.9", "L03.9", "L20.9", "L21.9", "L22", "L23.9", "L30.9", "L50.9",
    "L60.0", "L70.0", "M06.9", "M10.9", "M17.9", "M19.9", "M25.5", "M54.2", "M54.4", "M54.5",
    "M62.6", "M79.1", "M81.9", "N18.9", "N20.0", "N30.0", "N39.0", "N40", "N60.1", "N73.9",
    "N76.0", "N91.2", "N92.0", "N94.6", "N95.1", "N97.9", "O03.9", "O13", "O14.9", "O20.0",
    "O21.0", "O23.4", "O24.4", "O99.0", "R05", "R06.0", "R10.4", "R11", "R42", "R50.9", "R51",
    "R63.4", "R69", "R73.0", "R73.9", "S93.4", "T14.0", "T14.1", "T30.0", "T63.2", "U07.1",
    "U07.2", "Z00.0", "Z00.1", "Z00.3", "Z01.4", "Z12.3", "Z12.4", "Z13.1", "Z23.5", "Z25.1",
    "Z27.1", "Z27.4", "Z30.0", "Z30.1", "Z30.4", "Z32.1", "Z34.0", "Z34.8", "Z34.9", "Z35.9",
    "Z39.2", "Z71.3", "Z72.0", "Z76.0",
];

/// Every entry of the catalogue (about 14,200 codes), sorted by dotted code; parsed on first use.
pub static CATALOG: LazyLock<Vec<Cie10Entry>> = LazyLock::new(load);

fn load() -> Vec<Cie10Entry> {
    let mut entries: Vec<Cie10Entry> = TSV
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let code = fields.next()?;
            let description = fields.next()?;
            let origin = match fields.next()? {
                "i" => Origin::IcdCodeInfo,
                _ => Origin::DeisChile,
            };
            Some(entry(code, description, origin))
        })
        .collect();
    entries.extend(
        ADDITIONS
            .iter()
            .map(|&(code, description)| entry(code, description, Origin::Ours)),
    );
    entries.sort_by(|a, b| a.code.cmp(b.code));
    entries.dedup_by(|a, b| a.code == b.code);
    // A code is a leaf when no subcategory follows it (`E11` is followed by `E11.0`).
    let n_entries = entries.len();
    for idx in 0..n_entries {
        let has_children = entries
            .get(idx + 1)
            .is_some_and(|next| next.code.len() == 5 && next.code.starts_with(entries[idx].code));
        entries[idx].leaf = !has_children;
    }
    entries
}

fn entry(code: &'static str, description: &'static str, origin: Origin) -> Cie10Entry {
    Cie10Entry {
        code,
        description,
        sex: limits::sex_limit(code),
        age: limits::age_limit(code),
        leaf: true,
        primary_care: PRIMARY_CARE.binary_search(&code).is_ok(),
        origin,
    }
}
