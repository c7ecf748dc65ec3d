//! SMART App Launch scopes (v2, with the v1 forms still issued by older clients): parsing and
//! the question "does this set of scopes allow this interaction on this resource type?".
//!
//! Grammar accepted (one scope per space-separated word):
//!
//! * `patient/Type.perm`, `user/Type.perm`, `system/Type.perm` where `Type` is an R4 resource type
//!   or `*`, and `perm` is either v2 letters — a non-empty subsequence of `cruds` in that order
//!   (`rs`, `cud`, `cruds`) — or a v1 word: `read` (= `rs`), `write` (= `cud`), `*` (= `cruds`).
//! * v2 query restrictions (`patient/Observation.rs?category=…|laboratory`) are parsed and kept.
//!   Such a scope grants reads and searches of only the resources that match its query (the
//!   read guard checks each one: `policy::scope_restrictions`, `search::matches_restriction`),
//!   and grants no writes: a write would have to match before and after, which nobody asked
//!   for yet, and refusing is the safe reading.
//! * `openid`, `fhirUser`, `profile`, `launch`, `launch/patient`, `launch/encounter`,
//!   `offline_access`, `online_access`.
//!
//! Anything else is an error: tokens are issued by us, so a scope we do not understand is a bug or
//! an attack, not something to skip silently.
//!
//! SMART maps `r` to read, vread and history-instance, and `s` to search and history at type or
//! system level; see [`Interaction`].

#[cfg(test)]
mod tests;

/// What is done to a resource, at the granularity of SMART v2 permissions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Interaction {
    /// `create` (POST, also conditional create and transaction entries that create).
    Create,
    /// `read`, `vread`, `history` of one instance, and every resource returned through
    /// `_include`, `$everything` or export (each is a read of that resource).
    Read,
    /// `update`, `patch`, conditional update.
    Update,
    /// `delete`, conditional delete.
    Delete,
    /// `search` and `history` at type or system level. A permitted search still returns only
    /// the resources that pass [`crate::policy::decide`] with [`Interaction::Read`].
    Search,
}

impl Interaction {
    /// All interactions in SMART letter order `c r u d s`.
    pub const ALL: [Interaction; 5] = [
        Interaction::Create,
        Interaction::Read,
        Interaction::Update,
        Interaction::Delete,
        Interaction::Search,
    ];

    /// The SMART v2 permission letter.
    pub fn letter(self) -> char {
        match self {
            Interaction::Create => 'c',
            Interaction::Read => 'r',
            Interaction::Update => 'u',
            Interaction::Delete => 'd',
            Interaction::Search => 's',
        }
    }

    fn bit(self) -> u8 {
        match self {
            Interaction::Create => 1,
            Interaction::Read => 2,
            Interaction::Update => 4,
            Interaction::Delete => 8,
            Interaction::Search => 16,
        }
    }

    /// Whether the interaction changes data (used to decide which rules apply).
    pub fn is_write(self) -> bool {
        matches!(
            self,
            Interaction::Create | Interaction::Update | Interaction::Delete
        )
    }

    /// Spanish verb phrase for messages ("leer", "crear", …).
    pub fn verb_es(self) -> &'static str {
        match self {
            Interaction::Create => "crear",
            Interaction::Read => "leer",
            Interaction::Update => "modificar",
            Interaction::Delete => "eliminar",
            Interaction::Search => "buscar",
        }
    }

    /// English verb for messages.
    pub fn verb_en(self) -> &'static str {
        match self {
            Interaction::Create => "create",
            Interaction::Read => "read",
            Interaction::Update => "update",
            Interaction::Delete => "delete",
            Interaction::Search => "search",
        }
    }
}

/// A set of [`Interaction`]s (the `cruds` letters of one scope).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct InteractionSet(u8);

impl InteractionSet {
    /// All five interactions (`cruds`).
    pub const ALL: InteractionSet = InteractionSet(31);
    /// `rs`, what SMART v1 `read` means.
    pub const READ: InteractionSet = InteractionSet(2 | 16);
    /// `cud`, what SMART v1 `write` means.
    pub const WRITE: InteractionSet = InteractionSet(1 | 4 | 8);

    /// Whether `interaction` is in the set.
    pub fn contains(self, interaction: Interaction) -> bool {
        self.0 & interaction.bit() != 0
    }

    /// The set with `interaction` added.
    pub fn with(self, interaction: Interaction) -> InteractionSet {
        InteractionSet(self.0 | interaction.bit())
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The v2 letters, in `cruds` order.
    pub fn letters(self) -> String {
        Interaction::ALL
            .into_iter()
            .filter(|i| self.contains(*i))
            .map(Interaction::letter)
            .collect()
    }
}

/// The launch context a resource scope applies in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScopeContext {
    /// `patient/`: only resources in the compartment of the token's patient.
    Patient,
    /// `user/`: whatever the user may access (the role matrix decides).
    User,
    /// `system/`: a backend service without a user; only for [`crate::role::Role::System`].
    System,
}

impl ScopeContext {
    /// The prefix before the slash.
    pub fn as_str(self) -> &'static str {
        match self {
            ScopeContext::Patient => "patient",
            ScopeContext::User => "user",
            ScopeContext::System => "system",
        }
    }
}

/// One `context/Type.perm` scope.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ResourceScope {
    /// `patient`, `user` or `system`.
    pub context: ScopeContext,
    /// The resource type, or `None` for `*`.
    pub resource_type: Option<String>,
    /// The permitted interactions.
    pub interactions: InteractionSet,
    /// v2 query restrictions (`?category=…`), as `(name, value)` pairs in order. A scope with any
    /// restriction grants reads and searches of matching resources only, and no writes (see
    /// the module docs).
    pub restrictions: Vec<(String, String)>,
}

/// What a token's scopes grant for one interaction on one type, in one context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grant<'a> {
    /// Nothing.
    Nothing,
    /// Every resource of the type.
    Whole,
    /// Only resources matching one of these queries (each a list of `(name, value)`, all of
    /// which must match).
    Restricted(Vec<&'a [(String, String)]>),
}

impl ResourceScope {
    fn grants(&self, context: ScopeContext, resource_type: &str, interaction: Interaction) -> bool {
        (self.restrictions.is_empty() || !interaction.is_write())
            && self.context == context
            && self.interactions.contains(interaction)
            && self
                .resource_type
                .as_deref()
                .is_none_or(|own| own == resource_type)
    }
}

impl std::fmt::Display for ResourceScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{}.{}",
            self.context.as_str(),
            self.resource_type.as_deref().unwrap_or("*"),
            self.interactions.letters()
        )?;
        for (idx, (name, value)) in self.restrictions.iter().enumerate() {
            let sep = if idx == 0 { '?' } else { '&' };
            write!(f, "{sep}{name}={value}")?;
        }
        Ok(())
    }
}

/// One scope of a token.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// `patient/…`, `user/…`, `system/…`.
    Resource(ResourceScope),
    /// `openid`.
    OpenId,
    /// `fhirUser`.
    FhirUser,
    /// `profile` (SMART v1 alias of `fhirUser`).
    Profile,
    /// `launch` (EHR launch).
    Launch,
    /// `launch/patient`.
    LaunchPatient,
    /// `launch/encounter`.
    LaunchEncounter,
    /// `offline_access` (refresh tokens that outlive the session).
    OfflineAccess,
    /// `online_access`.
    OnlineAccess,
}

const NAMED_SCOPES: [(&str, Scope); 8] = [
    ("openid", Scope::OpenId),
    ("fhirUser", Scope::FhirUser),
    ("profile", Scope::Profile),
    ("launch", Scope::Launch),
    ("launch/patient", Scope::LaunchPatient),
    ("launch/encounter", Scope::LaunchEncounter),
    ("offline_access", Scope::OfflineAccess),
    ("online_access", Scope::OnlineAccess),
];

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Scope::Resource(scope) = self {
            return scope.fmt(f);
        }
        let name = NAMED_SCOPES
            .iter()
            .find(|(_, scope)| scope == self)
            .map_or("", |(name, _)| *name);
        f.write_str(name)
    }
}

/// Why a scope string was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// Not a scope we know (`admin`, `patient`, `foo/bar`).
    #[error("unknown scope `{scope}`")]
    Unknown {
        /// The offending word.
        scope: String,
    },
    /// `patient/Type` without `.perm`, or an empty type.
    #[error("scope `{scope}` must have the form context/Type.permissions")]
    Malformed {
        /// The offending word.
        scope: String,
    },
    /// A type that is not an R4 resource type (`patient/Obsrvation.rs`).
    #[error("scope `{scope}` names `{resource_type}`, which is not an R4 resource type")]
    UnknownResourceType {
        /// The offending word.
        scope: String,
        /// The type it named.
        resource_type: String,
    },
    /// Permissions that are neither v2 letters in `cruds` order nor `read`/`write`/`*`.
    #[error(
        "scope `{scope}` has invalid permissions `{permissions}` (expected letters of cruds in order, or read/write/*)"
    )]
    Permissions {
        /// The offending word.
        scope: String,
        /// The permission part.
        permissions: String,
    },
    /// `?` without `name=value` pairs.
    #[error("scope `{scope}` has an invalid query restriction")]
    Query {
        /// The offending word.
        scope: String,
    },
}

impl ScopeError {
    /// The message for people (es-MX).
    pub fn message_es(&self) -> String {
        match self {
            ScopeError::Unknown { scope } => format!("alcance desconocido «{scope}»"),
            ScopeError::Malformed { scope } => {
                format!("el alcance «{scope}» debe tener la forma contexto/Tipo.permisos")
            }
            ScopeError::UnknownResourceType {
                scope,
                resource_type,
            } => format!(
                "el alcance «{scope}» nombra «{resource_type}», que no es un tipo de recurso FHIR R4"
            ),
            ScopeError::Permissions { scope, permissions } => format!(
                "el alcance «{scope}» tiene permisos no válidos «{permissions}» (letras de cruds en ese orden, o read/write/*)"
            ),
            ScopeError::Query { scope } => {
                format!("el alcance «{scope}» tiene una restricción de consulta no válida")
            }
        }
    }

    /// The message for logs and English clients (= `Display`).
    pub fn message_en(&self) -> String {
        self.to_string()
    }
}

/// The scopes of one token, in the order given (duplicates removed).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Scopes {
    scopes: Vec<Scope>,
}

impl Scopes {
    /// No scopes at all (grants nothing).
    pub fn empty() -> Scopes {
        Scopes::default()
    }

    /// Parses a space-separated scope string. The empty string is the empty set.
    pub fn parse(text: &str) -> Result<Scopes, ScopeError> {
        let mut scopes = Vec::new();
        for word in text.split_ascii_whitespace() {
            let scope = parse_one(word)?;
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        Ok(Scopes { scopes })
    }

    /// The scopes, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.scopes.iter()
    }

    /// Whether there is no scope.
    pub fn is_empty(&self) -> bool {
        self.scopes.is_empty()
    }

    /// Whether some scope grants `interaction` on `resource_type` in `context`.
    pub fn allows(
        &self,
        context: ScopeContext,
        resource_type: &str,
        interaction: Interaction,
    ) -> bool {
        self.resource_scopes()
            .any(|scope| scope.grants(context, resource_type, interaction))
    }

    /// What the scopes of `context` grant for `interaction` on `resource_type`: an unrestricted
    /// scope grants the whole type, else the restricted ones that apply bound it.
    pub fn grant(
        &self,
        context: ScopeContext,
        resource_type: &str,
        interaction: Interaction,
    ) -> Grant<'_> {
        let mut restricted = Vec::new();
        for scope in self.resource_scopes() {
            if !scope.grants(context, resource_type, interaction) {
                continue;
            }
            if scope.restrictions.is_empty() {
                return Grant::Whole;
            }
            restricted.push(scope.restrictions.as_slice());
        }
        if restricted.is_empty() {
            Grant::Nothing
        } else {
            Grant::Restricted(restricted)
        }
    }

    /// Whether some resource scope carries a query restriction.
    pub fn has_restrictions(&self) -> bool {
        self.resource_scopes()
            .any(|scope| !scope.restrictions.is_empty())
    }

    /// Whether some resource scope uses `context` (e.g. a token with `system/` scopes).
    pub fn has_context(&self, context: ScopeContext) -> bool {
        self.resource_scopes().any(|scope| scope.context == context)
    }

    /// Whether the named (non-resource) scope is present.
    pub fn contains(&self, scope: &Scope) -> bool {
        self.scopes.contains(scope)
    }

    fn resource_scopes(&self) -> impl Iterator<Item = &ResourceScope> {
        self.scopes.iter().filter_map(|scope| match scope {
            Scope::Resource(resource) => Some(resource),
            _ => None,
        })
    }
}

impl std::fmt::Display for Scopes {
    /// The canonical form: v2 letters, single spaces. `Scopes::parse` of it gives the same set.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (idx, scope) in self.scopes.iter().enumerate() {
            if idx > 0 {
                f.write_str(" ")?;
            }
            scope.fmt(f)?;
        }
        Ok(())
    }
}

fn parse_one(word: &str) -> Result<Scope, ScopeError> {
    if let Some((_, scope)) = NAMED_SCOPES.iter().find(|(name, _)| *name == word) {
        return Ok(scope.clone());
    }
    let Some((context_text, rest)) = word.split_once('/') else {
        return Err(ScopeError::Unknown {
            scope: word.to_owned(),
        });
    };
    let context = match context_text {
        "patient" => ScopeContext::Patient,
        "user" => ScopeContext::User,
        "system" => ScopeContext::System,
        _ => {
            return Err(ScopeError::Unknown {
                scope: word.to_owned(),
            });
        }
    };
    let (body, query) = match rest.split_once('?') {
        Some((body, query)) => (body, Some(query)),
        None => (rest, None),
    };
    let malformed = || ScopeError::Malformed {
        scope: word.to_owned(),
    };
    // The type never contains a dot, so the first dot separates it from the permissions; `*.*`
    // (v1) has its second star after that dot.
    let (type_text, permissions) = body.split_once('.').ok_or_else(malformed)?;
    if type_text.is_empty() || permissions.is_empty() {
        return Err(malformed());
    }
    let resource_type = if type_text == "*" {
        None
    } else if crate::category::category_of(type_text).is_some() {
        Some(type_text.to_owned())
    } else {
        return Err(ScopeError::UnknownResourceType {
            scope: word.to_owned(),
            resource_type: type_text.to_owned(),
        });
    };
    let interactions = parse_permissions(permissions).ok_or_else(|| ScopeError::Permissions {
        scope: word.to_owned(),
        permissions: permissions.to_owned(),
    })?;
    let restrictions = match query {
        None => Vec::new(),
        Some(query) => parse_query(query).ok_or_else(|| ScopeError::Query {
            scope: word.to_owned(),
        })?,
    };
    Ok(Scope::Resource(ResourceScope {
        context,
        resource_type,
        interactions,
        restrictions,
    }))
}

fn parse_permissions(text: &str) -> Option<InteractionSet> {
    match text {
        "read" => return Some(InteractionSet::READ),
        "write" => return Some(InteractionSet::WRITE),
        "*" => return Some(InteractionSet::ALL),
        _ => {}
    }
    // v2: each letter at most once and in `cruds` order, so `rs` is valid and `sr`, `rr` are not.
    let mut set = InteractionSet::default();
    let mut next_idx = 0;
    for letter in text.chars() {
        let position = Interaction::ALL
            .iter()
            .position(|interaction| interaction.letter() == letter)?;
        if position < next_idx {
            return None;
        }
        set = set.with(Interaction::ALL[position]);
        next_idx = position + 1;
    }
    (!set.is_empty()).then_some(set)
}

fn parse_query(query: &str) -> Option<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=')?;
        if name.is_empty() || value.is_empty() {
            return None;
        }
        pairs.push((name.to_owned(), value.to_owned()));
    }
    Some(pairs)
}
