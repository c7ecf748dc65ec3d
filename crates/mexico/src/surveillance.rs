//! The diseases Mexico's epidemiological surveillance system requires to be notified
//! immediately (NOM-017-SSA2-2012), as data with its source: `data/notificacion-inmediata.tsv`.
//! Pure; compiled in.

use std::sync::OnceLock;

/// One immediately notifiable disease: a CIE-10 prefix and its names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notifiable {
    /// A category (`A00`) covers its subcategories; a subcategory (`A05.1`) only itself.
    pub prefix: &'static str,
    pub name_es: &'static str,
    pub name_en: &'static str,
}

const TABLE: &str = include_str!("../data/notificacion-inmediata.tsv");

/// The list, in file order (comment lines skipped).
pub fn immediate_notification() -> &'static [Notifiable] {
    static LIST: OnceLock<Vec<Notifiable>> = OnceLock::new();
    LIST.get_or_init(|| {
        TABLE
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| {
                let mut cols = l.split('\t');
                Some(Notifiable {
                    prefix: cols.next()?,
                    name_es: cols.next()?,
                    name_en: cols.next()?,
                })
            })
            .collect()
    })
}

/// Whether a CIE-10 code as recorded (`A00.9`, `A009`, `a00`) must be notified immediately.
pub fn requires_immediate_notification(code: &str) -> Option<&'static Notifiable> {
    let compact: String = code
        .trim()
        .chars()
        .filter(|c| *c != '.')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    immediate_notification().iter().find(|n| {
        let prefix: String = n.prefix.chars().filter(|c| *c != '.').collect();
        compact.starts_with(&prefix)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_parses_and_matches_by_prefix() {
        assert!(immediate_notification().len() >= 20);
        assert_eq!(
            requires_immediate_notification("A00.9").map(|n| n.name_es),
            Some("Cólera")
        );
        assert!(requires_immediate_notification("b05").is_some());
        assert!(requires_immediate_notification("A051").is_some());
        // Dengue without warning signs is weekly, severe dengue immediate.
        assert!(requires_immediate_notification("A90").is_none());
        assert!(requires_immediate_notification("A91").is_some());
        assert!(requires_immediate_notification("A05.0").is_none());
        assert!(requires_immediate_notification("E11.9").is_none());
    }
}
