//! Paging cursors that reveal nothing: the position a page ends at, sealed with an AEAD key
//! (AES-256-GCM) and bound to the user and the query it belongs to.
//!
//! Why sealed and not just opaque: a keyset cursor holds the sort values of a row (a
//! diagnosis code, a lab value, a date). It is built only from rows the requester was shown
//! (see `read`), and sealing keeps even those out of URLs, proxies and logs, and stops a cursor
//! being edited to point elsewhere or replayed by another user or with another query. The key
//! is derived from the node key (`auth::token::KeyStore::derive_secret`), so every process of a
//! node (and every process of a hub) accepts the cursors of the others; a node without one
//! draws a random key (cursors then last until a restart).

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use fhir::IssueCode;
use sha2::Digest;

use crate::Error;

/// What a cursor pages through (bound into the seal, so a cursor of one kind is refused as
/// another).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CursorKind {
    Search,
    History,
    Everything,
    AuditEvents,
}

impl CursorKind {
    fn tag(self) -> u8 {
        match self {
            CursorKind::Search => 1,
            CursorKind::History => 2,
            CursorKind::Everything => 3,
            CursorKind::AuditEvents => 4,
        }
    }
}

/// The sealing key of one node.
pub(crate) struct CursorKey {
    key: LessSafeKey,
}

impl CursorKey {
    /// A key from a 32-byte secret (AES-256 takes any 32 bytes: `None` does not happen).
    pub(crate) fn new(secret: &[u8; 32]) -> Option<CursorKey> {
        let unbound = UnboundKey::new(&AES_256_GCM, secret).ok()?;
        Some(CursorKey {
            key: LessSafeKey::new(unbound),
        })
    }

    /// A key from the system's random generator (a node without a key file).
    pub(crate) fn random() -> Option<CursorKey> {
        let mut secret = [0u8; 32];
        // Without randomness there is no key: paging answers an internal error rather than
        // sealing cursors with something guessable.
        aws_lc_rs::rand::fill(&mut secret).ok()?;
        CursorKey::new(&secret)
    }

    /// Seals `position` for `user` and the query `scope` (the request without its cursor).
    pub(crate) fn seal(&self, kind: CursorKind, user: &str, scope: &str, position: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        if aws_lc_rs::rand::fill(&mut nonce).is_err() {
            // A repeated nonce under GCM would leak the XOR of two positions; a counter-free
            // fallback from the position's own hash keeps nonces distinct per position.
            let digest = sha2::Sha256::digest(position.as_bytes());
            nonce.copy_from_slice(&digest[..NONCE_LEN]);
        }
        let aad = binding(kind, user, scope);
        let mut sealed = position.as_bytes().to_vec();
        if self
            .key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut sealed,
            )
            .is_err()
        {
            // Sealing a short message cannot fail; an empty cursor is refused when used.
            return String::new();
        }
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(out)
    }

    /// The position sealed in `cursor`, if it was sealed here for this user, kind and query.
    pub(crate) fn open(
        &self,
        kind: CursorKind,
        user: &str,
        scope: &str,
        cursor: &str,
    ) -> Result<String, Error> {
        let bad = || {
            Error::bad_request(
                IssueCode::Invalid,
                "El cursor de paginación no es válido para esta búsqueda (quizá caducó o se modificó); repita la búsqueda desde la primera página.",
                "The paging cursor is not valid for this query (it may have expired or been altered); repeat the search from its first page.",
            )
        };
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(cursor.as_bytes())
            .map_err(|_| bad())?;
        if raw.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(bad());
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| bad())?;
        let mut sealed = sealed.to_vec();
        let aad = binding(kind, user, scope);
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(aad), &mut sealed)
            .map_err(|_| bad())?;
        String::from_utf8(plain.to_vec()).map_err(|_| bad())
    }
}

/// What a cursor is bound to: its kind, the user and a digest of the query.
fn binding(kind: CursorKind, user: &str, scope: &str) -> Vec<u8> {
    let mut hasher = sha2::Sha256::new();
    hasher.update([kind.tag()]);
    hasher.update((user.len() as u64).to_le_bytes());
    hasher.update(user.as_bytes());
    hasher.update(scope.as_bytes());
    hasher.finalize().to_vec()
}

/// The query a cursor belongs to: the parameters except the cursor itself and the ones that
/// only shape the answer's text, in a canonical order.
pub(crate) fn query_scope(resource_type: &str, params: &[(String, String)]) -> String {
    let mut kept: Vec<(&str, &str)> = params
        .iter()
        .filter(|(key, _)| !matches!(key.as_str(), "_cursor" | "_format" | "_pretty"))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    kept.sort();
    let mut scope = String::from(resource_type);
    for (key, value) in kept {
        scope.push('\u{1f}');
        scope.push_str(key);
        scope.push('=');
        scope.push_str(value);
    }
    scope
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_cursor_opens_only_for_its_user_kind_and_query_and_hides_its_position() {
        let key = CursorKey::new(&[7u8; 32]).unwrap();
        let position = r#"[{"s":"E11.9"},42]"#;
        let sealed = key.seal(
            CursorKind::Search,
            "medica",
            "Condition\u{1f}code=x",
            position,
        );
        // Neither the text nor the decoded bytes carry the position (a short substring may
        // occur in base64 of random bytes by chance, so the whole value is what is looked for).
        assert!(!sealed.contains(position));
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(sealed.as_bytes())
            .unwrap();
        assert!(!raw.windows(5).any(|w| w == b"E11.9"));
        assert_eq!(
            key.open(
                CursorKind::Search,
                "medica",
                "Condition\u{1f}code=x",
                &sealed
            )
            .ok()
            .as_deref(),
            Some(position)
        );
        assert!(
            key.open(CursorKind::Search, "otro", "Condition\u{1f}code=x", &sealed)
                .is_err()
        );
        assert!(
            key.open(
                CursorKind::History,
                "medica",
                "Condition\u{1f}code=x",
                &sealed
            )
            .is_err()
        );
        assert!(
            key.open(
                CursorKind::Search,
                "medica",
                "Condition\u{1f}code=y",
                &sealed
            )
            .is_err()
        );
        let other_key = CursorKey::new(&[8u8; 32]).unwrap();
        assert!(
            other_key
                .open(
                    CursorKind::Search,
                    "medica",
                    "Condition\u{1f}code=x",
                    &sealed
                )
                .is_err()
        );
        // One flipped character is refused.
        let mut tampered = sealed.into_bytes();
        let last = tampered.len() - 3;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap_or_default();
        assert!(
            key.open(
                CursorKind::Search,
                "medica",
                "Condition\u{1f}code=x",
                &tampered
            )
            .is_err()
        );
        assert!(key.open(CursorKind::Search, "medica", "", "n[1]").is_err());
    }

    #[test]
    fn the_scope_ignores_the_cursor_and_the_order_of_parameters() {
        let a = query_scope(
            "Observation",
            &[
                ("code".into(), "1".into()),
                ("_cursor".into(), "zz".into()),
                ("date".into(), "ge2020".into()),
            ],
        );
        let b = query_scope(
            "Observation",
            &[
                ("date".into(), "ge2020".into()),
                ("code".into(), "1".into()),
            ],
        );
        assert_eq!(a, b);
    }
}
