//! The audit trail: entries, their canonical serialization, and the SHA-256 hash chain that makes
//! altering, deleting or reordering entries detectable.
//!
//! # Canonical serialization (version 1; stable — changing it breaks every stored chain)
//! ```text
//! canonical(e) = "expediente-audit-v1\n" field*
//! field        = name " " value "\n"
//! value        = "~"                          (absent)
//!              | byte_length ":" utf8_bytes   (present; decimal length, then the bytes as-is)
//! ```
//! Fields, in this order: `seq`, `at_ms`, `node`, `user`, `user_display`, `role`, `clues`,
//! `facility_name`, `action`, `resource_type`, `resource_id`, `patient_id`, `outcome`,
//! `break_glass`, `source_ip`, `details`. Numbers are decimal ASCII (`-` for negatives), `role` is the
//! role identifier, `action` and `outcome` their [`AuditAction::as_str`] / [`Outcome::as_str`]
//! codes, `break_glass` is `true`/`false`. The length prefix makes the encoding unambiguous
//! whatever the values contain (newlines, spaces, `~`), and an absent value differs from an empty one.
//!
//! # Chain
//! `hash_n = SHA-256(hash_{n-1} ‖ canonical(entry_n))` over the raw 32-byte hashes, with
//! `hash_0` = 32 zero bytes ([`ChainHash::GENESIS`]) and `seq` starting at 1 with no gaps. The seq is
//! inside the hashed bytes, so renumbering is detected too. Truncating the tail is only detectable
//! against a head recorded elsewhere ([`verify_chain_to`]): clinics sign their head with the node
//! key ([`anchor_message`]) and ship it to the hub (`sync`'s anchors).
//!
//! # Lanes
//! A store with many concurrent writers (the hub on PostgreSQL) would queue every auditing
//! transaction behind one chain head. Its trail is instead a trunk (the single chain it held
//! before) followed by several chains, *lanes*, dealt round by seq: see [`Lanes`]. Each lane is
//! a chain as above, with its seqs `count` apart instead of 1, and starts from the trunk's head.
//! A clinic's trail is one lane ([`Lanes::SINGLE`]), exactly the chain described above.

#[cfg(test)]
mod tests;

mod anchor;
mod event;
mod lanes;

pub use anchor::{ANCHOR_DOMAIN, anchor_message};
pub use event::{MEXICO_CITY_UTC_OFFSET_MINUTES, patient_view_line, to_audit_event_json};
pub use lanes::{Lane, Lanes, verify_lanes};

use sha2::{Digest, Sha256};

use crate::role::Role;

/// What was done, at the level the audit trail records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuditAction {
    /// `create`.
    Create,
    /// `read`.
    Read,
    /// `vread`.
    Vread,
    /// `update` / `patch`.
    Update,
    /// `delete`.
    Delete,
    /// `search` (the query goes in `details`).
    Search,
    /// `history`.
    History,
    /// `$everything` and other read operations (name in `details`).
    Operation,
    /// Bulk or document export.
    Export,
    /// Patient merge (MPI).
    Merge,
    /// A transaction or batch Bundle (its entries are audited individually too).
    Transaction,
    /// Successful login.
    Login,
    /// Failed login (unknown user, wrong password, disabled account).
    LoginFailed,
    /// Logout.
    Logout,
    /// A token issued (CLI, token endpoint).
    TokenIssue,
    /// A token revoked.
    TokenRevoke,
    /// A break-glass grant (the reason goes in `details`).
    BreakGlass,
    /// An account created, disabled, its role or password changed.
    UserChange,
    /// An *inicio de atención*: a facility started caring for a patient (the reason goes in
    /// `details`); listed for review like a break-glass.
    CareStart,
    /// A *cambio de unidad*: a patient's registration moved to another facility (the reason
    /// goes in `details`); listed for review.
    RegistrationMove,
}

impl AuditAction {
    /// Every action.
    pub const ALL: [AuditAction; 20] = [
        AuditAction::Create,
        AuditAction::Read,
        AuditAction::Vread,
        AuditAction::Update,
        AuditAction::Delete,
        AuditAction::Search,
        AuditAction::History,
        AuditAction::Operation,
        AuditAction::Export,
        AuditAction::Merge,
        AuditAction::Transaction,
        AuditAction::Login,
        AuditAction::LoginFailed,
        AuditAction::Logout,
        AuditAction::TokenIssue,
        AuditAction::TokenRevoke,
        AuditAction::BreakGlass,
        AuditAction::UserChange,
        AuditAction::CareStart,
        AuditAction::RegistrationMove,
    ];

    /// The stored code (also used in the canonical form; never change one).
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Create => "create",
            AuditAction::Read => "read",
            AuditAction::Vread => "vread",
            AuditAction::Update => "update",
            AuditAction::Delete => "delete",
            AuditAction::Search => "search",
            AuditAction::History => "history",
            AuditAction::Operation => "operation",
            AuditAction::Export => "export",
            AuditAction::Merge => "merge",
            AuditAction::Transaction => "transaction",
            AuditAction::Login => "login",
            AuditAction::LoginFailed => "login-failed",
            AuditAction::Logout => "logout",
            AuditAction::TokenIssue => "token-issue",
            AuditAction::TokenRevoke => "token-revoke",
            AuditAction::BreakGlass => "break-glass",
            AuditAction::UserChange => "user-change",
            AuditAction::CareStart => "care-start",
            AuditAction::RegistrationMove => "registration-move",
        }
    }

    /// Parses a stored code.
    pub fn parse(code: &str) -> Option<AuditAction> {
        AuditAction::ALL.into_iter().find(|a| a.as_str() == code)
    }

    /// Actions an auditor reviews one by one (exceptions to the ordinary rules, each with a
    /// reason): break-glass, inicio de atención, cambio de unidad.
    pub fn needs_review(self) -> bool {
        matches!(
            self,
            AuditAction::BreakGlass | AuditAction::CareStart | AuditAction::RegistrationMove
        )
    }
}

/// How it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Done.
    Success,
    /// Refused by access control or by validation.
    Denied,
    /// Failed inside the server.
    Error,
}

impl Outcome {
    /// The stored code.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Denied => "denied",
            Outcome::Error => "error",
        }
    }

    /// Parses a stored code.
    pub fn parse(code: &str) -> Option<Outcome> {
        [Outcome::Success, Outcome::Denied, Outcome::Error]
            .into_iter()
            .find(|o| o.as_str() == code)
    }
}

/// One audit entry. The caller fills it in from the request and the principal and stores it in
/// the same transaction as the change it records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// Position in the node's chain, from 1, without gaps (assigned by [`Chain::append`]).
    pub seq: u64,
    /// When (ms since the epoch, from the server clock).
    pub at_ms: i64,
    /// The node that recorded it (`AuditEvent.source.observer`).
    pub node: String,
    /// The account name (empty for an unknown user in a failed login).
    pub user: String,
    /// The person's name as shown to patients ("Dra. Ana López"); may be empty.
    pub user_display: String,
    /// The role the account acted in.
    pub role: Option<Role>,
    /// The facility CLUES.
    pub clues: Option<String>,
    /// The facility's name ("Centro de Salud Tlalpan").
    pub facility_name: Option<String>,
    /// What was done.
    pub action: AuditAction,
    /// The resource type, when a resource was involved.
    pub resource_type: Option<String>,
    /// The resource id.
    pub resource_id: Option<String>,
    /// The patient whose record was involved.
    pub patient_id: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// The access was made under a break-glass grant.
    pub break_glass: bool,
    /// Client address.
    pub source_ip: Option<String>,
    /// Free text: the search query, the break-glass reason, the token id, the denial reason.
    pub details: String,
}

/// Writes the canonical form (see the module docs).
pub fn canonical(entry: &AuditEntry) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + entry.details.len());
    out.extend_from_slice(b"expediente-audit-v1\n");
    let mut field = |name: &str, value: Option<&str>| {
        out.extend_from_slice(name.as_bytes());
        out.push(b' ');
        match value {
            None => out.push(b'~'),
            Some(value) => {
                out.extend_from_slice(value.len().to_string().as_bytes());
                out.push(b':');
                out.extend_from_slice(value.as_bytes());
            }
        }
        out.push(b'\n');
    };
    field("seq", Some(&entry.seq.to_string()));
    field("at_ms", Some(&entry.at_ms.to_string()));
    field("node", Some(&entry.node));
    field("user", Some(&entry.user));
    field("user_display", Some(&entry.user_display));
    field("role", entry.role.map(Role::as_str));
    field("clues", entry.clues.as_deref());
    field("facility_name", entry.facility_name.as_deref());
    field("action", Some(entry.action.as_str()));
    field("resource_type", entry.resource_type.as_deref());
    field("resource_id", entry.resource_id.as_deref());
    field("patient_id", entry.patient_id.as_deref());
    field("outcome", Some(entry.outcome.as_str()));
    field(
        "break_glass",
        Some(if entry.break_glass { "true" } else { "false" }),
    );
    field("source_ip", entry.source_ip.as_deref());
    field("details", Some(&entry.details));
    out
}

/// A SHA-256 chain hash.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChainHash(pub [u8; 32]);

impl ChainHash {
    /// The hash before the first entry.
    pub const GENESIS: ChainHash = ChainHash([0; 32]);

    /// Lowercase hex (64 characters), the stored form.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// Parses the stored form; `None` unless exactly 64 hex digits.
    pub fn from_hex(text: &str) -> Option<ChainHash> {
        let bytes = text.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (idx, pair) in bytes.chunks_exact(2).enumerate() {
            let digit = |b: u8| (b as char).to_digit(16);
            let value = digit(pair[0])? * 16 + digit(pair[1])?;
            *out.get_mut(idx)? = u8::try_from(value).ok()?;
        }
        Some(ChainHash(out))
    }
}

impl std::fmt::Debug for ChainHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ChainHash({})", self.to_hex())
    }
}

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 15)]));
    }
    out
}

/// `SHA-256(prev ‖ canonical(entry))`.
pub fn chain_hash(prev: &ChainHash, entry: &AuditEntry) -> ChainHash {
    let mut hasher = Sha256::new();
    hasher.update(prev.0);
    hasher.update(canonical(entry));
    let digest = hasher.finalize();
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_slice());
    ChainHash(out)
}

/// An entry with its chain hash, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedEntry {
    /// The entry.
    pub entry: AuditEntry,
    /// `hash_seq`.
    pub hash: ChainHash,
}

/// The end of a chain: the last seq and its hash (seq 0 and [`ChainHash::GENESIS`] when empty).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainHead {
    /// Last seq.
    pub seq: u64,
    /// Its hash.
    pub hash: ChainHash,
}

impl ChainHead {
    /// The head of an empty chain.
    pub const EMPTY: ChainHead = ChainHead {
        seq: 0,
        hash: ChainHash::GENESIS,
    };
}

/// The writer's view of the chain: read the head (last row) inside the write transaction, append,
/// store. The store's single writer (or the lane's lock) makes seqs gap-free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chain {
    head: ChainHead,
    /// The seq the next entry gets.
    next: u64,
    /// How far apart this chain's seqs are (1, or the number of lanes).
    stride: u64,
}

impl Chain {
    /// Continues after `head` ([`ChainHead::EMPTY`] for a new node).
    pub fn resume(head: ChainHead) -> Chain {
        Chain {
            head,
            next: head.seq.saturating_add(1),
            stride: 1,
        }
    }

    /// Continues lane `lane` of `lanes` after its newest entry, `lane_head` (`None` while the lane
    /// is empty: it then starts from the trunk's head).
    pub fn lane(lanes: &Lanes, lane: u16, lane_head: Option<ChainHead>) -> Chain {
        let stride = u64::from(lanes.count.max(1));
        match lane_head {
            Some(head) => Chain {
                head,
                next: head.seq.saturating_add(stride),
                stride,
            },
            None => Chain {
                head: lanes.trunk,
                next: lanes.first_seq(lane),
                stride,
            },
        }
    }

    /// The current head.
    pub fn head(&self) -> ChainHead {
        self.head
    }

    /// Assigns the next seq to `entry`, seals it and advances the head.
    pub fn append(&mut self, mut entry: AuditEntry) -> SealedEntry {
        entry.seq = self.next;
        let hash = chain_hash(&self.head.hash, &entry);
        self.head = ChainHead {
            seq: entry.seq,
            hash,
        };
        self.next = entry.seq.saturating_add(self.stride);
        SealedEntry { entry, hash }
    }
}

/// What is wrong with a chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainFault {
    /// The stored hash does not match the recomputed one: this entry (or the stored hash) was
    /// altered, or an entry before it was replaced.
    HashMismatch,
    /// The seq is not the next one: entries were deleted or reordered before this one.
    SeqOutOfOrder {
        /// The seq that should have come.
        expected: u64,
    },
    /// The chain ends before the recorded head: entries were deleted at the end.
    Truncated {
        /// The recorded last seq.
        expected_last: u64,
    },
}

/// The first bad entry of a chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("audit chain broken at entry {first_bad_seq}: {reason:?}")]
pub struct ChainError {
    /// The seq (as stored) of the first entry that does not fit; for truncation, the first
    /// missing seq.
    pub first_bad_seq: u64,
    /// Why.
    pub reason: ChainFault,
}

impl ChainError {
    /// The message for operators (es-MX).
    pub fn message_es(&self) -> String {
        match self.reason {
            ChainFault::HashMismatch => format!(
                "la bitácora fue alterada: la entrada {} no coincide con su huella (hash)",
                self.first_bad_seq
            ),
            ChainFault::SeqOutOfOrder { expected } => format!(
                "la bitácora fue alterada: se esperaba la entrada {expected} y aparece la {} (entradas eliminadas o reordenadas)",
                self.first_bad_seq
            ),
            ChainFault::Truncated { expected_last } => format!(
                "la bitácora fue truncada: faltan las entradas {} a {expected_last}",
                self.first_bad_seq
            ),
        }
    }
}

/// Incremental verification, for chains read page by page from the store.
#[derive(Clone, Copy, Debug)]
pub struct ChainVerifier {
    head: ChainHead,
    /// The seq the next entry must have.
    next: u64,
    /// How far apart the chain's seqs are (1, or the number of lanes).
    stride: u64,
}

impl ChainVerifier {
    /// Verification from the start of the chain.
    pub fn new() -> ChainVerifier {
        ChainVerifier::after(ChainHead::EMPTY)
    }

    /// Verification of the entries after a trusted head (a previously verified checkpoint).
    pub fn after(head: ChainHead) -> ChainVerifier {
        ChainVerifier {
            head,
            next: head.seq.saturating_add(1),
            stride: 1,
        }
    }

    /// Verification of lane `lane` of `lanes` from its first entry.
    pub fn lane(lanes: &Lanes, lane: u16) -> ChainVerifier {
        ChainVerifier {
            head: lanes.trunk,
            next: lanes.first_seq(lane),
            stride: u64::from(lanes.count.max(1)),
        }
    }

    /// Checks the next entry.
    pub fn push(&mut self, sealed: &SealedEntry) -> Result<(), ChainError> {
        let expected = self.next;
        let seq = sealed.entry.seq;
        if seq != expected {
            return Err(ChainError {
                first_bad_seq: seq,
                reason: ChainFault::SeqOutOfOrder { expected },
            });
        }
        let hash = chain_hash(&self.head.hash, &sealed.entry);
        if hash != sealed.hash {
            return Err(ChainError {
                first_bad_seq: seq,
                reason: ChainFault::HashMismatch,
            });
        }
        self.head = ChainHead { seq, hash };
        self.next = seq.saturating_add(self.stride);
        Ok(())
    }

    /// The head verified so far.
    pub fn head(&self) -> ChainHead {
        self.head
    }
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier::new()
    }
}

/// Verifies a whole chain (entries in stored seq order) and returns its head.
pub fn verify_chain(entries: &[SealedEntry]) -> Result<ChainHead, ChainError> {
    let mut verifier = ChainVerifier::new();
    for sealed in entries {
        verifier.push(sealed)?;
    }
    Ok(verifier.head())
}

/// Verifies a whole chain and that it reaches `recorded` (a head kept elsewhere, e.g. at the hub),
/// which also detects deletion at the end.
pub fn verify_chain_to(entries: &[SealedEntry], recorded: ChainHead) -> Result<(), ChainError> {
    let head = verify_chain(entries)?;
    if head.seq < recorded.seq {
        return Err(ChainError {
            first_bad_seq: head.seq.saturating_add(1),
            reason: ChainFault::Truncated {
                expected_last: recorded.seq,
            },
        });
    }
    // The recorded head must be on this chain: the entry at its seq must have its hash.
    let at_recorded = entries
        .iter()
        .find(|sealed| sealed.entry.seq == recorded.seq)
        .map_or(ChainHash::GENESIS, |sealed| sealed.hash);
    if at_recorded != recorded.hash {
        return Err(ChainError {
            first_bad_seq: recorded.seq,
            reason: ChainFault::HashMismatch,
        });
    }
    Ok(())
}
