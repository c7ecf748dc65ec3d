//! Node credentials: opaque random secrets, kept on the hub only as SHA-256 digests.
//!
//! A credential is `exps_` followed by 32 random bytes in base64url: 256 bits, so a digest
//! without salt or a slow hash is enough (there is nothing to guess), and a stolen hub database
//! does not reveal any credential. Lookups compare the digest with every enrolled one in
//! constant time, without stopping at the first match.

use base64::Engine;
use sha2::{Digest, Sha256};

/// Prefix that makes a leaked credential recognisable (secret scanners, logs).
pub const TOKEN_PREFIX: &str = "exps_";

/// Random bytes in a credential.
pub const TOKEN_RANDOM_BYTES: usize = 32;

/// A credential from `random` bytes (the caller supplies them from the OS generator).
pub fn token_from_random(random: &[u8; TOKEN_RANDOM_BYTES]) -> String {
    format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random)
    )
}

pub fn token_sha256(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Equality whose time does not depend on where the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The node whose enrolled digest matches `token`, comparing against every node.
pub fn find_node(nodes: &[(String, Vec<u8>)], token: &str) -> Option<String> {
    let digest = token_sha256(token);
    let mut found = None;
    for (node_id, enrolled) in nodes {
        if constant_time_eq(&digest, enrolled) && found.is_none() {
            found = Some(node_id.clone());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_found_by_digest_only() {
        let token_a = token_from_random(&[7; 32]);
        let token_b = token_from_random(&[9; 32]);
        assert!(token_a.starts_with(TOKEN_PREFIX));
        assert_eq!(token_a.len(), TOKEN_PREFIX.len() + 43);
        let nodes = vec![
            ("A".to_string(), token_sha256(&token_a)),
            ("B".to_string(), token_sha256(&token_b)),
        ];
        assert_eq!(find_node(&nodes, &token_b).as_deref(), Some("B"));
        assert_eq!(find_node(&nodes, "exps_guess"), None);
        assert!(!constant_time_eq(b"ab", b"abc"));
    }
}
