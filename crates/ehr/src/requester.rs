//! Who is asking: the [`Requester`] every use case takes, built by the edges (a verified
//! bearer token in `rest`, a web session in `web`, a node credential in `sync`, the CLI's own
//! tools) and never by the use cases themselves.

use auth::role::{Principal, Role};

/// Who is asking, as every use case needs to know it.
#[derive(Clone, Debug)]
pub struct Requester {
    pub principal: Principal,
    /// The person's name as patients see it in their access log.
    pub display_name: String,
    /// The facility's name, when known.
    pub facility_name: Option<String>,
    /// Client address, for the audit trail.
    pub source_ip: Option<String>,
}

impl Requester {
    /// A trusted local tool (the CLI's import, demo and MPI scan), acting with `system/*`
    /// scopes. Its actions are audited under `name` like anyone else's.
    pub fn local_system(name: &str) -> Requester {
        Requester {
            principal: Principal {
                user: name.to_string(),
                role: Role::System,
                clues: None,
                practitioner_id: None,
                patient_id: None,
                scopes: auth::scope::Scopes::parse("system/*.cruds").unwrap_or_default(),
                token_id: String::new(),
                break_glass: Vec::new(),
            },
            display_name: name.to_string(),
            facility_name: None,
            source_ip: None,
        }
    }

    pub fn role(&self) -> Role {
        self.principal.role
    }

    /// Whether every resource a read returns must pass the read guard one by one. A system
    /// principal is bounded by its scopes at the type level, so its reads skip that, unless a
    /// scope carries a query restriction (SMART v2 `system/Observation.rs?category=…`), which
    /// only the resource itself can answer.
    pub(crate) fn reads_filtered(&self) -> bool {
        self.principal.role != Role::System || self.principal.scopes.has_restrictions()
    }
}
