//! `KeyStore::load_or_create`: the only file I/O of the crate.

use auth::role::Role;
use auth::token::{KeyStore, TokenError, TokenRequest};

fn request() -> TokenRequest {
    TokenRequest {
        user: "admin".into(),
        role: Role::Admin,
        clues: None,
        patient_id: None,
        practitioner_id: None,
        scopes: None,
        ttl_ms: None,
        epoch: 0,
    }
}

#[test]
fn creates_once_then_reloads_the_same_key() {
    let dir = tempfile::tempdir().unwrap();
    let first = KeyStore::load_or_create(dir.path()).unwrap();
    let private = dir.path().join("keys/token-ed25519.pk8");
    let public = dir.path().join("keys/token-ed25519.pub");
    assert!(private.is_file());
    assert_eq!(
        std::fs::read_to_string(&public).unwrap().trim(),
        first.public_key_base64url()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&private).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "private key must be owner-only");
        let mode = std::fs::metadata(&public).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "every file the node creates is owner-only"
        );
        let keys = dir.path().join("keys");
        let mode = std::fs::metadata(&keys).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "the key directory is owner-only");
    }
    let second = KeyStore::load_or_create(dir.path()).unwrap();
    assert_eq!(first.key_id(), second.key_id());
    // A token issued by one process verifies in another that loaded the same directory
    // (`expediente token issue` while the server runs).
    let issued = first.issue(&request(), 1_800_000_000_000, "j1").unwrap();
    assert!(
        second
            .verify(&issued.token, 1_800_000_000_000, &|_| false)
            .is_ok()
    );
    // No temporary files are left behind.
    let names: Vec<String> = std::fs::read_dir(dir.path().join("keys"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn concurrent_creation_agrees_on_one_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || KeyStore::load_or_create(&path).unwrap().key_id().to_owned())
        })
        .collect();
    let ids: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let on_disk = KeyStore::load_or_create(&path).unwrap();
    for id in ids {
        assert_eq!(id, on_disk.key_id());
    }
}

#[test]
fn a_corrupt_key_file_is_an_error_not_a_new_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("keys")).unwrap();
    std::fs::write(dir.path().join("keys/token-ed25519.pk8"), b"not a key").unwrap();
    let error = KeyStore::load_or_create(dir.path()).unwrap_err();
    assert!(matches!(error, TokenError::KeyInvalid { .. }), "{error}");
    // The file is left for the operator to inspect; nothing overwrote it.
    assert_eq!(
        std::fs::read(dir.path().join("keys/token-ed25519.pk8")).unwrap(),
        b"not a key"
    );
}
