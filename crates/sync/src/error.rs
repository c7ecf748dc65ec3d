//! `sync::Error`: what can go wrong syncing, with messages for operators in Spanish and English.

/// Sync errors callers branch on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The hub did not recognise the node's credential.
    #[error("credencial de nodo no reconocida / node credential not recognised")]
    Unauthorized,
    /// A node tried to push versions made elsewhere.
    #[error(
        "un nodo solo puede enviar sus propios cambios ({0}) / a node may only push its own changes ({0})"
    )]
    Forbidden(String),
    #[error("solicitud de sincronización inválida / invalid sync request: {0}")]
    BadRequest(String),
    /// The hub cannot be reached or answered with a failure; retried with backoff.
    #[error("nodo central inaccesible / hub unreachable: {0}")]
    Unreachable(String),
    #[error("el almacenamiento no admite sincronización / the store does not keep a sync log")]
    NoSyncLog,
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error(transparent)]
    Ehr(#[from] ehr::Error),
}

impl Error {
    /// Carries a sync error through a store write job (`store::Error::Aborted`).
    pub(crate) fn abort(self) -> store::Error {
        match self {
            Error::Store(err) => err,
            other => store::Error::Aborted(Box::new(other)),
        }
    }

    /// Takes a sync error back out of a store error, when it was one.
    pub(crate) fn from_store(err: store::Error) -> Error {
        match err {
            store::Error::Aborted(inner) => match inner.downcast::<Error>() {
                Ok(sync) => *sync,
                Err(other) => Error::Store(store::Error::Aborted(other)),
            },
            other => Error::Store(other),
        }
    }
}
