//! Audit anchors: the head of a node's chain (`seq`, hash) signed with the node key, so that a
//! copy kept elsewhere (the hub) can later show that the trail was cut or rewritten.
//!
//! The signed message is domain-separated and unambiguous (one field per line, in this order):
//! ```text
//! expediente-audit-anchor-v1\n node \n seq \n hash \n at_ms \n
//! ```
//! Node ids are CLUES or `hub` (no newlines), `seq` and `at_ms` decimal, `hash` lowercase hex.

/// The first line of every anchor message: a signature over it can never be mistaken for one
/// over a token or anything else the node key signs.
pub const ANCHOR_DOMAIN: &str = "expediente-audit-anchor-v1";

/// The bytes a node signs for the head (`seq`, `hash_hex`) of its chain at `at_ms`.
pub fn anchor_message(node: &str, seq: u64, hash_hex: &str, at_ms: i64) -> Vec<u8> {
    format!("{ANCHOR_DOMAIN}\n{node}\n{seq}\n{hash_hex}\n{at_ms}\n").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::{KeyStore, verify_signature};

    #[test]
    fn anchors_verify_with_the_signing_key_only() {
        let keys = KeyStore::generate().unwrap();
        let other = KeyStore::generate().unwrap();
        let hash = "ab".repeat(32);
        let message = anchor_message("DFSSA000001", 42, &hash, 1_795_000_000_000);
        let signature = keys.sign(&message);
        let public = keys.public_key_base64url();
        assert!(verify_signature(&public, &message, &signature));
        // Another key, another head, another node or a garbled signature: not valid.
        assert!(!verify_signature(
            &other.public_key_base64url(),
            &message,
            &signature
        ));
        let moved = anchor_message("DFSSA000001", 41, &hash, 1_795_000_000_000);
        assert!(!verify_signature(&public, &moved, &signature));
        let elsewhere = anchor_message("DFSSA000002", 42, &hash, 1_795_000_000_000);
        assert!(!verify_signature(&public, &elsewhere, &signature));
        assert!(!verify_signature(&public, &message, "not base64!"));
        assert!(!verify_signature("", &message, &signature));
        // The message states its purpose first.
        assert!(message.starts_with(b"expediente-audit-anchor-v1\nDFSSA000001\n42\n"));
    }
}
