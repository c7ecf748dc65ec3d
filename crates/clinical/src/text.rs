//! Accent- and case-insensitive folding for matching drug and allergy names in free text.

/// Lowercase ASCII letters and digits separated by single spaces (`Ácido acetilsalicílico` →
/// `acido acetilsalicilico`; `Trimetoprima/sulfametoxazol` → `trimetoprima sulfametoxazol`):
/// the same folding the CIE-10 search uses.
pub(crate) fn fold(raw: &str) -> String {
    mexico::search_fold(raw)
}

/// Whether the folded `phrase` occurs in the folded `text` as whole words.
pub(crate) fn contains_phrase(text: &str, phrase: &str) -> bool {
    if phrase.is_empty() {
        return false;
    }
    let padded_text = format!(" {text} ");
    let padded_phrase = format!(" {phrase} ");
    padded_text.contains(&padded_phrase)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_and_matches_whole_words() {
        assert_eq!(fold("Ácido  Acetilsalicílico"), "acido acetilsalicilico");
        assert_eq!(fold("TMP/SMX"), "tmp smx");
        assert!(contains_phrase("alergia a la penicilina", "penicilina"));
        assert!(!contains_phrase("bencilpenicilina", "penicilina"));
        assert!(!contains_phrase("algo", ""));
    }
}
