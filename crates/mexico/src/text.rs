//! Text folding shared by CURP derivation and catalog search (crate-private).
//!
//! Two foldings exist because they answer different questions: RENAPO's rules turn a name into the
//! letters A–Z with Ñ becoming X (a CURP never contains Ñ), while search folds Ñ to N so that typing
//! "nino" finds "niño".

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Splits a personal name into words of ASCII uppercase letters, following the RENAPO conventions:
/// accents and diaeresis are dropped (Á→A, Ü→U), Ñ becomes X, whitespace and the separators `- . , / _`
/// split words, and every other character (apostrophes, digits, symbols, letters outside Latin) is
/// ignored, so `O'Higgins` is one word `OHIGGINS` and `Ma.Guadalupe` is `MA`, `GUADALUPE`.
pub(crate) fn curp_name_words(raw: &str) -> Vec<String> {
    // NFC first so that both a precomposed Ñ and N + combining tilde are seen as one Ñ.
    let with_x: String = raw
        .nfc()
        .map(|c| if c == 'Ñ' || c == 'ñ' { 'X' } else { c })
        .collect();
    let mut words = Vec::new();
    let mut word = String::new();
    for c in with_x.nfd() {
        if c.is_ascii_alphabetic() {
            word.push(c.to_ascii_uppercase());
        } else if (c.is_whitespace() || matches!(c, '-' | '.' | ',' | '/' | '_'))
            && !word.is_empty()
        {
            words.push(std::mem::take(&mut word));
        }
        // Anything else (combining marks left by NFD, apostrophes, digits...) contributes nothing.
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// Folds text for accent- and case-insensitive search: lowercase ASCII letters and digits separated by
/// single spaces. Ñ folds to N here (unlike CURP folding).
pub fn search_fold(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut pending_space = false;
    for c in raw.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        if c.is_ascii_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(c.to_ascii_lowercase());
        } else {
            pending_space = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curp_words_fold_accents_and_enye() {
        assert_eq!(
            curp_name_words("María de los Ángeles"),
            ["MARIA", "DE", "LOS", "ANGELES"]
        );
        assert_eq!(curp_name_words("Muñoz"), ["MUXOZ"]);
        assert_eq!(
            curp_name_words("NUN\u{303}EZ"),
            ["NUXEZ"],
            "decomposed Ñ is still Ñ"
        );
        assert_eq!(curp_name_words("Güemes"), ["GUEMES"]);
        assert_eq!(curp_name_words("  O'Higgins "), ["OHIGGINS"]);
        assert_eq!(curp_name_words("Ma.Guadalupe"), ["MA", "GUADALUPE"]);
        assert_eq!(curp_name_words("García-López"), ["GARCIA", "LOPEZ"]);
        assert_eq!(curp_name_words("Juan 2º"), ["JUAN"]);
        assert!(curp_name_words(" .-' ").is_empty());
    }

    #[test]
    fn search_folding() {
        assert_eq!(
            search_fold("  Hipertensión   esencial (primaria) "),
            "hipertension esencial primaria"
        );
        assert_eq!(search_fold("Niño"), "nino");
        assert_eq!(search_fold("E11.9"), "e11 9");
        assert_eq!(search_fold("¿?"), "");
    }
}
