//! What the report index tests share: a node over a temporary SQLite file, written to as the
//! local system.

use std::sync::Arc;

use fhir::Json;

use crate::{Ehr, Requester, SystemClock};

pub(crate) fn json(text: &str) -> Json {
    fhir::json::parse_str(text).expect("test JSON")
}

/// A node over a fresh SQLite file, and the account its tests write as.
pub(crate) struct TestNode {
    _dir: tempfile::TempDir,
    pub ehr: Ehr,
    pub tool: Requester,
}

impl TestNode {
    pub fn new() -> TestNode {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = store_sqlite::SqliteStore::open(dir.path()).expect("store");
        TestNode {
            ehr: Ehr::new(store, Arc::new(SystemClock), "prueba"),
            tool: Requester::local_system("pruebas"),
            _dir: dir,
        }
    }

    /// Creates `body` as a `kind`; its id.
    pub fn create(&self, kind: &str, body: &str) -> String {
        self.ehr
            .create(&self.tool, kind, json(body), None)
            .expect("created")
            .resource
            .id
    }

    /// Replaces `kind/id` with `body` (the id written into it).
    pub fn update(&self, kind: &str, id: &str, body: &str) {
        let body = body.replacen('{', &format!(r#"{{"id":"{id}","#), 1);
        self.ehr
            .update(&self.tool, kind, id, json(&body), None)
            .expect("updated");
    }
}
