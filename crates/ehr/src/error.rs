//! What can go wrong in a use case, as data the REST layer maps to a status code.

use fhir::{Issue, IssueCode};

/// The English messages of some issues, for logs (`Display` keeps the detail, so a log line
/// says what went wrong, not only which kind of thing).
fn messages(issues: &[Issue]) -> String {
    issues
        .iter()
        .map(|issue| issue.message_en.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request or resource is malformed or fails R4 structure rules (400).
    #[error("bad request: {}", messages(.0))]
    BadRequest(Vec<Issue>),
    /// Well-formed but violates a profile or business rule (422).
    #[error("unprocessable: {}", messages(.0))]
    Unprocessable(Vec<Issue>),
    /// The resource type is not an R4 type (404).
    #[error("unknown resource type {0}")]
    UnknownType(String),
    /// No such resource or version (404).
    #[error("not found: {}", .0.message_en)]
    NotFound(Issue),
    /// The resource was deleted (410).
    #[error("gone: {}", .0.message_en)]
    Gone(Issue),
    /// A version conflict detected without a precondition header (409).
    #[error("conflict: {}", messages(.0))]
    Conflict(Vec<Issue>),
    /// `If-Match` or a conditional operation's precondition failed (412).
    #[error("precondition failed: {}", .0.message_en)]
    PreconditionFailed(Issue),
    /// The operation is not supported (405 for methods, 501 otherwise decided by REST).
    #[error("not supported: {}", .0.message_en)]
    NotSupported(Issue),
    /// A FHIR feature this server does not provide yet, asked for explicitly (501): better a
    /// clear refusal than storing something that would silently do nothing.
    #[error("not implemented: {}", .0.message_en)]
    NotImplemented(Issue),
    /// The requester is not who they must be: no valid credential (401).
    #[error("unauthorized: {}", .0.message_en)]
    Unauthorized(Issue),
    /// The requester is known but may not do this (403). Never used when the refusal depends
    /// on the target instance: that answers as if it did not exist (404), so a refusal does
    /// not confirm that a record exists.
    #[error("forbidden: {}", .0.message_en)]
    Forbidden(Issue),
    /// Too many attempts (429).
    #[error("too many requests: {}", .0.message_en)]
    TooManyRequests(Issue),
    /// The store is temporarily unable to serve (503).
    #[error("busy")]
    Busy,
    /// An internal failure; details go to the log only (500).
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn issues(&self) -> Vec<Issue> {
        match self {
            Error::BadRequest(issues) | Error::Unprocessable(issues) | Error::Conflict(issues) => {
                issues.clone()
            }
            Error::UnknownType(resource_type) => vec![Issue::error(
                IssueCode::NotSupported,
                format!("Tipo de recurso desconocido: {resource_type}"),
                format!("Unknown resource type: {resource_type}"),
            )],
            Error::NotFound(issue)
            | Error::Gone(issue)
            | Error::PreconditionFailed(issue)
            | Error::NotSupported(issue)
            | Error::NotImplemented(issue)
            | Error::Unauthorized(issue)
            | Error::Forbidden(issue)
            | Error::TooManyRequests(issue) => vec![issue.clone()],
            Error::Busy => vec![Issue::error(
                IssueCode::Transient,
                "El almacén está ocupado; intente de nuevo en unos segundos.",
                "The store is busy; retry in a few seconds.",
            )],
            Error::Internal(_) => vec![Issue::error(
                IssueCode::Exception,
                "Error interno del servidor.",
                "Internal server error.",
            )],
        }
    }

    pub fn bad_request(code: IssueCode, es: impl Into<String>, en: impl Into<String>) -> Error {
        Error::BadRequest(vec![Issue::error(code, es, en)])
    }

    pub fn not_found(resource_type: &str, id: &str) -> Error {
        Error::NotFound(Issue::error(
            IssueCode::NotFound,
            format!("No existe el recurso {resource_type}/{id}"),
            format!("Resource {resource_type}/{id} is not known"),
        ))
    }

    pub fn gone(resource_type: &str, id: &str) -> Error {
        Error::Gone(Issue::error(
            IssueCode::Deleted,
            format!("El recurso {resource_type}/{id} fue eliminado"),
            format!("Resource {resource_type}/{id} has been deleted"),
        ))
    }
}

impl From<store::Error> for Error {
    fn from(err: store::Error) -> Error {
        match err {
            store::Error::Busy => Error::Busy,
            store::Error::Invalid(message) => Error::bad_request(
                IssueCode::Invalid,
                format!("Solicitud inválida: {message}"),
                format!("Invalid request: {message}"),
            ),
            store::Error::Conflict(message) => Error::Conflict(vec![Issue::error(
                IssueCode::Conflict,
                format!("Conflicto con un cambio simultáneo: {message}"),
                format!("Conflict with a concurrent change: {message}"),
            )]),
            store::Error::Aborted(inner) => match inner.downcast::<Error>() {
                Ok(err) => *err,
                Err(other) => Error::Internal(other.to_string()),
            },
            store::Error::Other(message) => Error::Internal(message),
        }
    }
}

/// Carries an `ehr::Error` out of a store write job.
pub(crate) fn abort(err: Error) -> store::Error {
    store::Error::Aborted(Box::new(err))
}

impl Error {
    /// The HTTP status FHIR prescribes for this outcome. It lives here, not only in the REST
    /// layer, because FHIR puts statuses inside content too (`Bundle.entry.response.status`).
    pub fn http_status(&self) -> u16 {
        match self {
            Error::BadRequest(_) => 400,
            Error::Unprocessable(_) => 422,
            Error::UnknownType(_) | Error::NotFound(_) => 404,
            Error::Gone(_) => 410,
            Error::Conflict(_) => 409,
            Error::PreconditionFailed(_) => 412,
            Error::NotSupported(_) => 405,
            Error::NotImplemented(_) => 501,
            Error::Unauthorized(_) => 401,
            Error::Forbidden(_) => 403,
            Error::TooManyRequests(_) => 429,
            Error::Busy => 503,
            Error::Internal(_) => 500,
        }
    }
}

/// The reason phrase for the statuses we emit, for `Bundle.entry.response.status`.
pub fn status_line(status: u16) -> String {
    let reason = match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        410 => "Gone",
        412 => "Precondition Failed",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    };
    format!("{status} {reason}")
}
