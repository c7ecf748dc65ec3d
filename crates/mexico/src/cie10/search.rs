//! Typeahead search over the catalogue: code prefixes, everyday synonyms, then title words.
//!
//! The titles are folded once (lowercase ASCII, accents and punctuation dropped) into an index
//! built on first use, so a query is a linear scan of short strings: about 14,200 titles, each
//! checked word by word with `starts_with`. The benchmark example `cie10_search` measures it.

use std::sync::LazyLock;

use super::synonyms::SYNONYMS;
use super::{CATALOG, Cie10Entry};
use crate::text;

/// Why an entry matched a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Cie10Match {
    /// The query is the start of the code, in any written form (`e11`, `E11.9`, `I10X`).
    Code,
    /// An everyday term of the synonyms table matched (`presión alta` → I10).
    Synonym {
        /// The term as the table writes it.
        term: &'static str,
    },
    /// Every query word starts a word of the official title.
    Title,
}

/// One search result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Cie10Hit {
    /// The catalogue entry.
    pub entry: &'static Cie10Entry,
    /// Why it matched (the UI can show "presión alta → Hipertensión esencial").
    pub matched: Cie10Match,
}

struct Index {
    /// Folded title words of each catalogue entry, same order as [`CATALOG`].
    titles: Vec<Vec<Box<str>>>,
    /// Undotted codes (`E119`), same order.
    codes: Vec<Box<str>>,
}

static INDEX: LazyLock<Index> = LazyLock::new(|| Index {
    titles: CATALOG
        .iter()
        .map(|entry| {
            text::search_fold(entry.description)
                .split(' ')
                .map(Box::from)
                .collect()
        })
        .collect(),
    codes: CATALOG
        .iter()
        .map(|entry| undotted(entry.code).into_boxed_str())
        .collect(),
});

fn undotted(code: &str) -> String {
    code.chars().filter(|&c| c != '.').collect()
}

/// If `query` looks like the start of a code (`e`, `E1`, `E11`, `e11.`, `E11.9`, `E119`, `I10X`),
/// the undotted uppercase prefix to match.
fn code_prefix(query: &str) -> Option<String> {
    let mut prefix = undotted(&query.trim().to_uppercase());
    if prefix.len() == 4 && prefix.ends_with('X') {
        prefix.pop();
    }
    let mut chars = prefix.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_uppercase());
    (starts_with_letter && prefix.len() <= 4 && chars.all(|c| c.is_ascii_digit())).then_some(prefix)
}

/// Every query token starts some word.
fn all_tokens_start_words<'a>(
    tokens: &[&str],
    words: impl Iterator<Item = &'a str> + Clone,
) -> bool {
    tokens
        .iter()
        .all(|token| words.clone().any(|word| word.starts_with(token)))
}

/// Adds the entry at `idx` unless an earlier group already did.
fn push(taken: &mut [bool], hits: &mut Vec<Cie10Hit>, idx: usize, matched: Cie10Match) {
    if let (Some(entry), Some(seen)) = (CATALOG.get(idx), taken.get_mut(idx))
        && !*seen
    {
        *seen = true;
        hits.push(Cie10Hit { entry, matched });
    }
}

/// Searches the catalogue as the user types, case- and accent-insensitively; at most `limit` hits.
///
/// Order:
/// 1. codes that start with the query, in code order (`e11` → E11, E11.0 … E11.9);
/// 2. codes of the synonyms whose every word is started by a query word (`presion al` →
///    "presión alta" → I10), terms equal to the query first, then terms starting with it, then
///    the rest, each in table order;
/// 3. codes whose title has, for every query word, a word starting with it, ranked: primary-care
///    codes first, reportable codes (no subcategories) before categories, titles whose first word
///    matches the first query word, then shorter titles, then code order.
///
/// No code appears twice. An empty or punctuation-only query finds nothing.
pub fn search(query: &str, limit: usize) -> Vec<Cie10Hit> {
    let folded = text::search_fold(query);
    if folded.is_empty() || limit == 0 {
        return Vec::new();
    }
    let tokens: Vec<&str> = folded.split(' ').collect();
    let index = &*INDEX;
    let mut taken = vec![false; CATALOG.len()];
    let mut hits: Vec<Cie10Hit> = Vec::new();

    if let Some(prefix) = code_prefix(query) {
        for (idx, code) in index.codes.iter().enumerate() {
            if code.starts_with(prefix.as_str()) {
                push(&mut taken, &mut hits, idx, Cie10Match::Code);
                if hits.len() >= limit {
                    return hits;
                }
            }
        }
    }

    let mut synonym_hits: Vec<(u8, usize)> = SYNONYMS
        .iter()
        .enumerate()
        .filter(|(_, synonym)| all_tokens_start_words(&tokens, synonym.folded.split(' ')))
        .map(|(order, synonym)| {
            let rank = if synonym.folded == folded {
                0
            } else if synonym.folded.starts_with(folded.as_str()) {
                1
            } else {
                2
            };
            (rank, order)
        })
        .collect();
    synonym_hits.sort_unstable();
    for (_, order) in synonym_hits {
        let Some(synonym) = SYNONYMS.get(order) else {
            continue;
        };
        for code in &synonym.codes {
            if let Ok(idx) = CATALOG.binary_search_by(|entry| entry.code.cmp(code)) {
                push(
                    &mut taken,
                    &mut hits,
                    idx,
                    Cie10Match::Synonym { term: synonym.term },
                );
                if hits.len() >= limit {
                    return hits;
                }
            }
        }
    }

    let first_token = tokens.first().copied().unwrap_or_default();
    let mut title_hits: Vec<(bool, bool, bool, usize, usize)> = index
        .titles
        .iter()
        .enumerate()
        .filter(|(idx, words)| {
            !taken.get(*idx).copied().unwrap_or(true)
                && all_tokens_start_words(&tokens, words.iter().map(|w| &**w))
        })
        .filter_map(|(idx, words)| {
            let entry = CATALOG.get(idx)?;
            let first_word_matches = words.first().is_some_and(|w| w.starts_with(first_token));
            Some((
                !entry.primary_care,
                !entry.leaf,
                !first_word_matches,
                entry.description.len(),
                idx,
            ))
        })
        .collect();
    let wanted = limit.saturating_sub(hits.len());
    if wanted < title_hits.len() {
        title_hits.select_nth_unstable(wanted);
        title_hits.truncate(wanted);
    }
    title_hits.sort_unstable();
    for (.., idx) in title_hits {
        push(&mut taken, &mut hits, idx, Cie10Match::Title);
    }
    hits
}
