//! A phonetic key for Spanish names as Mexicans pronounce them.
//!
//! No Rust crate encodes Spanish: Double Metaphone, Soundex and NYSIIS are built for English and miss
//! silent H, B/V, LL/Y and X/J (STACK.md §6 measured 10 of 17 true variants with Double Metaphone). This
//! key follows the Spanish Metaphone rules (Mosquera 2011) adapted to Mexican seseo and yeísmo, keeps the
//! vowels (Spanish vowels are stable and carry a lot of the identity of short names) and collapses
//! repeated codes. It is used for blocking and as one agreement level of the name comparators.

use crate::normalize::fold;

/// Encodes `s` (any case, accents, spaces) into the Spanish phonetic key.
///
/// Rules, applied left to right on the folded letters (spaces and punctuation are ignored):
///
/// | spelling | code | why |
/// |---|---|---|
/// | A E I O U | themselves | stable vowels |
/// | B V W | `B` | betacismo: B and V sound the same (Ibáñez/Ivanez, Wenceslao/Venceslao) |
/// | C + E/I, S, Z | `S` | seseo (Cecilia/Sesilia, Zúñiga/Suniga, González/Gonzales) |
/// | CH | `C` | CH is its own sound; `C` is free because hard and soft C map elsewhere |
/// | C (other), K, Q (+ silent U before E/I) | `K` | Quiñones/Kinones, Vásquez/Vazquez |
/// | G, J, X (GU + E/I drops the U) | `J` | G+E/I, J and X (Ximena/Jimena, Jiménez/Gimenez) sound alike; clerks also confuse GUI/GI by ear (Guillermo/Giyermo), so G is folded into the same class |
/// | H (not after C) | — | silent (Herrera/Errera) |
/// | LL, Y before a vowel | `Y` | yeísmo (Yolanda/Llolanda, Villalobos/Billalobos) |
/// | Y elsewhere | `I` | vowel Y (Rey/Rei, Ysabel/Isabel) |
/// | PH | `F` | |
/// | Ñ | `N` | removed by folding |
/// | any code equal to the previous one | — | doubled letters (RR, SS, CC before E/I …) |
///
/// Deliberate non-equivalences: Hernández (`ERNANDES`) and Fernández (`FERNANDES`) are different
/// surnames and stay different. Chávez (`CABES`) and Xavez (`JABES`) also stay different: X is usually
/// pronounced as J in Mexican names (Xavier, Ximena, México), and giving CH the J code would merge many
/// unrelated names to catch a rare misspelling.
pub fn spanish_phonetic(s: &str) -> String {
    let letters: Vec<u8> = fold(s).bytes().filter(u8::is_ascii_uppercase).collect();
    let at = |i: usize| letters.get(i).copied();
    let is_vowel = |c: Option<u8>| matches!(c, Some(b'A' | b'E' | b'I' | b'O' | b'U'));
    let is_front_vowel = |c: Option<u8>| matches!(c, Some(b'E' | b'I'));

    let mut out = String::with_capacity(letters.len());
    let mut i = 0;
    while i < letters.len() {
        let c = letters[i];
        let next = at(i + 1);
        let code = match c {
            b'A' | b'E' | b'I' | b'O' | b'U' => Some(c),
            b'B' | b'V' | b'W' => Some(b'B'),
            b'C' if next == Some(b'H') => {
                i += 1;
                Some(b'C')
            }
            b'C' if is_front_vowel(next) => Some(b'S'),
            b'C' | b'K' => Some(b'K'),
            b'Q' => {
                if next == Some(b'U') && is_front_vowel(at(i + 2)) {
                    i += 1;
                }
                Some(b'K')
            }
            b'G' => {
                if next == Some(b'U') && is_front_vowel(at(i + 2)) {
                    i += 1;
                }
                Some(b'J')
            }
            b'J' | b'X' => Some(b'J'),
            b'S' | b'Z' => Some(b'S'),
            b'H' => None,
            b'L' if next == Some(b'L') => {
                i += 1;
                Some(b'Y')
            }
            b'Y' if is_vowel(next) => Some(b'Y'),
            b'Y' => Some(b'I'),
            b'P' if next == Some(b'H') => {
                i += 1;
                Some(b'F')
            }
            other => Some(other),
        };
        if let Some(code) = code
            && out.as_bytes().last() != Some(&code)
        {
            out.push(char::from(code));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests;
