//! `SearchQuery`: a parsed FHIR search, shaped so a SQL builder only renders column
//! comparisons.
//!
//! All R4 semantics (prefixes over ranges, implicit precision, token `system|code` forms,
//! string folding, reference forms) are decided here, while parsing, and expressed as
//! [`Predicate`]s over the columns of one index row. A store renders each [`Clause`] as
//! `EXISTS (SELECT 1 FROM <kind's index table> WHERE resource = r AND param = code AND
//! (<any_of[0]> OR <any_of[1]> …))` (or `NOT EXISTS` when `negate`), AND-ing clauses. It never
//! needs to know what `ge` means for a date.
//!
//! # Index columns per kind
//! - token: `system` (nullable), `code`, `text` (nullable)
//! - string: `normalized`, `exact`
//! - date: `low_ms`, `high_ms` (inclusive UTC epoch ms)
//! - number: `low`, `high`
//! - quantity: `low`, `high`, `system`, `code`, `unit` (all but the bounds nullable)
//! - reference: `target_type`, `target_id`, `url`, `identifier_system`, `identifier_value`
//! - uri: `uri`
//! - resource table: `id`, `last_updated_ms`
//!
//! # R4 prefix semantics over ranges
//! The target range `[lo, hi]` is the index row's (`low_ms`/`high_ms`, or `low`/`high`); the
//! search range `[s_lo, s_hi]` is the query value at its precision ("2020" is the whole year,
//! `100` is `[99.5, 100.5]`). Bounds are inclusive on both sides (R4 writes `[99.5, 100.5)`;
//! with millisecond dates and decimal texts the difference is immaterial).
//! - `eq`: the search range fully contains the target range: `lo >= s_lo AND hi <= s_hi`.
//! - `ne`: not `eq`: `lo < s_lo OR hi > s_hi`.
//! - `gt`: the range above the search value overlaps the target: `hi > s_hi`.
//! - `lt`: the range below the search value overlaps the target: `lo < s_lo`.
//! - `ge`: `gt` or `eq`: `hi > s_hi OR (lo >= s_lo AND hi <= s_hi)`.
//! - `le`: `lt` or `eq`: `lo < s_lo OR (lo >= s_lo AND hi <= s_hi)`.
//! - `sa` (starts after): the target starts after the search range: `lo > s_hi`.
//! - `eb` (ends before): the target ends before the search range: `hi < s_lo`.
//! - `ap`: the target overlaps the search range widened by 10 %: for numbers and quantities
//!   by 10 % of the value, for dates by 10 % of the distance between the search value and
//!   `now_ms` (passed in by the caller): `lo <= s_hi + d AND hi >= s_lo - d`.

use crate::registry::SearchParam;

/// What to do with unknown or unsupported parameters (`Prefer: handling=…`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Handling {
    /// Ignore them and report a warning (the R4 default).
    #[default]
    Lenient,
    /// Reject the search (400).
    Strict,
}

/// A parsed search on one resource type.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct SearchQuery {
    pub resource_type: String,
    /// Conditions that must all hold (repeated parameters AND).
    pub filters: Vec<Filter>,
    /// `_include` (and `_include:iterate`).
    pub include: Vec<Include>,
    /// `_revinclude` (and `_revinclude:iterate`).
    pub revinclude: Vec<Include>,
    /// `_sort`, in priority order.
    pub sort: Vec<SortKey>,
    /// `_count` as given; the caller applies its default and maximum.
    pub count: Option<u32>,
    pub summary: Option<Summary>,
    /// `_elements`, element names as given (empty: all).
    pub elements: Vec<String>,
    pub total: Option<Total>,
    /// `_cursor`: the paging position, opaque to this crate.
    pub cursor: Option<String>,
}

/// One AND-ed condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    /// An indexed parameter.
    Param(Clause),
    /// `_id=a,b`: `resource.id IN (…)`.
    Id { ids: Vec<String> },
    /// `_lastUpdated`: predicates over [`Col::LastUpdatedMs`] of the resource table, OR-ed.
    LastUpdated { any_of: Vec<Predicate> },
    /// `_has:Type:ref:…`: some resource of `resource_type` whose `reference` parameter points
    /// at this resource matches `filter`.
    Has(Box<Has>),
}

/// A condition on one indexed parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct Clause {
    /// The parameter; `param.kind` names the index table, `param.code` the rows.
    pub param: &'static SearchParam,
    /// `:not`: no row matches `any_of` (resources without the element match too).
    pub negate: bool,
    /// `:missing=true` (no row for the parameter) or `false` (at least one row). When set,
    /// `any_of` is empty.
    pub missing: Option<bool>,
    /// A chained search: a row of this reference parameter whose `(target_type, target_id)` is
    /// a resource of `chain.resource_type` matching `chain.filter`. `any_of` then restricts the
    /// row to that target type.
    pub chain: Option<Box<Chain>>,
    /// Row predicates, OR-ed (comma-separated values).
    pub any_of: Vec<Predicate>,
}

/// The chained part of `subject:Patient.identifier=…`.
#[derive(Clone, Debug, PartialEq)]
pub struct Chain {
    pub resource_type: String,
    pub filter: Filter,
}

/// `_has:{resource_type}:{reference}:{filter}`.
#[derive(Clone, Debug, PartialEq)]
pub struct Has {
    pub resource_type: String,
    /// A reference parameter of `resource_type` pointing at the searched resources.
    pub reference: &'static SearchParam,
    pub filter: Filter,
}

/// A boolean expression over one index row's columns.
#[derive(Clone, Debug, PartialEq)]
pub enum Predicate {
    Cmp(Cmp),
    /// The column is NULL.
    IsNull(Col),
    /// All hold (AND). Never empty.
    All(Vec<Predicate>),
    /// One holds (OR). Never empty.
    Any(Vec<Predicate>),
}

/// `col op value`. `StartsWith`/`Contains` compare strings literally: the SQL builder must
/// escape `%`, `_` and its escape character in `value` when it renders them with `LIKE`.
#[derive(Clone, Debug, PartialEq)]
pub struct Cmp {
    pub col: Col,
    pub op: Op,
    pub value: Value,
}

/// Index columns (see the module docs for which kind has which).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Col {
    System,
    Code,
    Text,
    Normalized,
    Exact,
    LowMs,
    HighMs,
    Low,
    High,
    Unit,
    TargetType,
    TargetId,
    Url,
    IdentifierSystem,
    IdentifierValue,
    Uri,
    /// Resource table: the logical id.
    Id,
    /// Resource table: `meta.lastUpdated` in UTC epoch ms.
    LastUpdatedMs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    StartsWith,
    Contains,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
    Float(f64),
}

/// `_include` / `_revinclude`.
#[derive(Clone, Debug, PartialEq)]
pub struct Include {
    /// The type holding the reference (for `_include`, the searched type unless iterating).
    pub source_type: String,
    /// The reference parameter; `None` for `*` (all reference parameters of `source_type`).
    pub param: Option<&'static SearchParam>,
    /// `:Target` restriction (`_include=Observation:subject:Patient`).
    pub target_type: Option<String>,
    /// `:iterate`: also apply to resources included by this search (one level).
    pub iterate: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SortKey {
    pub by: SortBy,
    pub descending: bool,
}

/// What to sort by. For a parameter with several rows per resource, R4 sorts by the lowest
/// value ascending and the highest descending (dates: `low_ms` / `high_ms`).
#[derive(Clone, Debug, PartialEq)]
pub enum SortBy {
    Param(&'static SearchParam),
    Id,
    LastUpdated,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Summary {
    True,
    Text,
    Data,
    Count,
    False,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Total {
    None,
    Estimate,
    Accurate,
}

pub(crate) fn cmp(col: Col, op: Op, value: Value) -> Predicate {
    Predicate::Cmp(Cmp { col, op, value })
}

pub(crate) fn all(mut preds: Vec<Predicate>) -> Predicate {
    if preds.len() == 1 {
        preds.remove(0)
    } else {
        Predicate::All(preds)
    }
}

pub(crate) fn any(mut preds: Vec<Predicate>) -> Predicate {
    if preds.len() == 1 {
        preds.remove(0)
    } else {
        Predicate::Any(preds)
    }
}

/// The R4 prefix semantics (module docs) for a target range in columns `(lo, hi)` and a search
/// range `[s_lo, s_hi]`; `ap_widen` is how far `ap` widens the search range on each side.
pub(crate) fn range_predicate<T: Copy>(
    prefix: crate::registry::Prefix,
    (lo, hi): (Col, Col),
    (s_lo, s_hi): (T, T),
    ap_widen: (T, T),
    to_value: impl Fn(T) -> Value,
) -> Predicate {
    use crate::registry::Prefix;
    let c = |col: Col, op: Op, v: T| cmp(col, op, to_value(v));
    // `lo <= s_hi` is implied (every row has lo <= hi) but gives the index an upper bound on
    // its leading column: without it `birthdate=1984-03-07` walks every later birth date.
    let contained = || {
        all(vec![
            c(lo, Op::Ge, s_lo),
            c(lo, Op::Le, s_hi),
            c(hi, Op::Le, s_hi),
        ])
    };
    match prefix {
        Prefix::Eq => contained(),
        Prefix::Ne => any(vec![c(lo, Op::Lt, s_lo), c(hi, Op::Gt, s_hi)]),
        Prefix::Gt => c(hi, Op::Gt, s_hi),
        Prefix::Lt => c(lo, Op::Lt, s_lo),
        Prefix::Ge => any(vec![c(hi, Op::Gt, s_hi), contained()]),
        Prefix::Le => any(vec![c(lo, Op::Lt, s_lo), contained()]),
        Prefix::Sa => c(lo, Op::Gt, s_hi),
        Prefix::Eb => c(hi, Op::Lt, s_lo),
        Prefix::Ap => {
            let (a_lo, a_hi) = ap_widen;
            all(vec![c(lo, Op::Le, a_hi), c(hi, Op::Ge, a_lo)])
        }
    }
}
