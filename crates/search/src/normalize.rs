//! String folding shared by indexing and querying, so that "gomez" finds "Gómez".
//!
//! R4 string search is case- and accent-insensitive. Folding once at write time into the
//! index's `normalized` column (and folding the query value the same way) lets both SQLite
//! and PostgreSQL answer with plain `=`/`LIKE` on an indexed column, without collations or
//! extensions that differ between the two.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Folds `text` for search: canonical decomposition with combining marks removed ("Núñez" →
/// "nunez"), lower case, runs of whitespace collapsed to one space, trimmed.
pub fn normalize_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // `true` at the start so leading whitespace is dropped.
    let mut pending_space = false;
    let mut at_start = true;
    let mut push = |c: char, out: &mut String| {
        if c.is_whitespace() {
            pending_space = !at_start;
            return;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        at_start = false;
        out.push(c);
    };
    if text.is_ascii() {
        // Fast path: most indexed strings (codes, most names) are ASCII.
        for c in text.chars() {
            push(c.to_ascii_lowercase(), &mut out);
        }
    } else {
        for c in text.nfd() {
            if is_combining_mark(c) {
                continue;
            }
            for lower in c.to_lowercase() {
                push(lower, &mut out);
            }
        }
    }
    out
}
