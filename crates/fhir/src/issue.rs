//! Problems found in a request or a resource, in the shape of FHIR `OperationOutcome.issue`.
//!
//! Every layer reports problems as `Issue`s with a bilingual message (Spanish first: the users
//! are Mexican clinicians; English for integrators) and a FHIRPath-like `expression` pointing at
//! the offending element. Only the REST layer decides HTTP status codes.

use crate::json::Json;

/// `OperationOutcome.issue.severity`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Fatal,
    Error,
    Warning,
    Information,
}

impl Severity {
    pub fn code(self) -> &'static str {
        match self {
            Severity::Fatal => "fatal",
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Information => "information",
        }
    }
}

/// `OperationOutcome.issue.code` (the R4 IssueType value set, the members we use).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IssueCode {
    Invalid,
    Structure,
    Required,
    Value,
    Invariant,
    Security,
    Login,
    Forbidden,
    Processing,
    NotSupported,
    Duplicate,
    MultipleMatches,
    NotFound,
    Deleted,
    TooLong,
    CodeInvalid,
    Extension,
    TooCostly,
    BusinessRule,
    Conflict,
    Transient,
    Exception,
    Timeout,
    Throttled,
    Informational,
}

impl IssueCode {
    pub fn code(self) -> &'static str {
        match self {
            IssueCode::Invalid => "invalid",
            IssueCode::Structure => "structure",
            IssueCode::Required => "required",
            IssueCode::Value => "value",
            IssueCode::Invariant => "invariant",
            IssueCode::Security => "security",
            IssueCode::Login => "login",
            IssueCode::Forbidden => "forbidden",
            IssueCode::Processing => "processing",
            IssueCode::NotSupported => "not-supported",
            IssueCode::Duplicate => "duplicate",
            IssueCode::MultipleMatches => "multiple-matches",
            IssueCode::NotFound => "not-found",
            IssueCode::Deleted => "deleted",
            IssueCode::TooLong => "too-long",
            IssueCode::CodeInvalid => "code-invalid",
            IssueCode::Extension => "extension",
            IssueCode::TooCostly => "too-costly",
            IssueCode::BusinessRule => "business-rule",
            IssueCode::Conflict => "conflict",
            IssueCode::Transient => "transient",
            IssueCode::Exception => "exception",
            IssueCode::Timeout => "timeout",
            IssueCode::Throttled => "throttled",
            IssueCode::Informational => "informational",
        }
    }
}

/// One problem, with a message in Spanish and in English.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    pub severity: Severity,
    pub code: IssueCode,
    /// FHIRPath-style location, e.g. `Patient.identifier[0].value`.
    pub expression: Option<String>,
    pub message_es: String,
    pub message_en: String,
}

impl Issue {
    pub fn error(code: IssueCode, es: impl Into<String>, en: impl Into<String>) -> Issue {
        Issue {
            severity: Severity::Error,
            code,
            expression: None,
            message_es: es.into(),
            message_en: en.into(),
        }
    }

    pub fn warning(code: IssueCode, es: impl Into<String>, en: impl Into<String>) -> Issue {
        Issue {
            severity: Severity::Warning,
            ..Issue::error(code, es, en)
        }
    }

    pub fn information(es: impl Into<String>, en: impl Into<String>) -> Issue {
        Issue {
            severity: Severity::Information,
            ..Issue::error(IssueCode::Informational, es, en)
        }
    }

    pub fn at(mut self, expression: impl Into<String>) -> Issue {
        self.expression = Some(expression.into());
        self
    }

    pub fn is_error(&self) -> bool {
        matches!(self.severity, Severity::Error | Severity::Fatal)
    }

    /// The issue as an `OperationOutcome.issue` element. The Spanish message goes in
    /// `diagnostics` and `details.text`; the English one in a `details.coding`-free
    /// translation extension would be heavier, so both languages share `diagnostics`
    /// as "es / en" unless a single language is asked for.
    pub fn to_json(&self, lang: Lang) -> Json {
        let diagnostics = match lang {
            Lang::Es => self.message_es.clone(),
            Lang::En => self.message_en.clone(),
            Lang::Both => format!("{} / {}", self.message_es, self.message_en),
        };
        let mut members = vec![
            ("severity", Json::str(self.severity.code())),
            ("code", Json::str(self.code.code())),
            ("diagnostics", Json::str(diagnostics)),
        ];
        if let Some(expression) = &self.expression {
            members.push(("expression", Json::Array(vec![Json::str(expression)])));
        }
        Json::object(members)
    }
}

/// Which language(s) to render messages in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Lang {
    Es,
    En,
    #[default]
    Both,
}

/// Builds an `OperationOutcome` resource from issues.
pub fn operation_outcome(issues: &[Issue], lang: Lang) -> Json {
    let issues: Vec<Json> = if issues.is_empty() {
        vec![Issue::information("Operación completada.", "All OK.").to_json(lang)]
    } else {
        issues.iter().map(|issue| issue.to_json(lang)).collect()
    };
    Json::object([
        ("resourceType", Json::str("OperationOutcome")),
        ("issue", Json::Array(issues)),
    ])
}
