//! Lenient reading of what R4 forbids but whose meaning is safe to assume.
//!
//! Today one case: a `dateTime` with a time of day and no offset (`2026-03-01T10:30:00`, as
//! Python's `isoformat()` and many lab systems send it). Refusing it would turn away real
//! senders; guessing silently would hide an assumption in health data. So the value is read as a
//! wall-clock time in the node's zone (with the zone's offset history, daylight saving time
//! included), stored with that offset, and the sender is told in a warning what was assumed.
//! `instant` stays strict: it exists to be an exact moment. A client that prefers refusal says
//! `Prefer: handling=strict`, and the caller then uses the plain validator.

use super::{Path, Segment, primitive};
use crate::issue::{Issue, IssueCode};
use crate::json::Json;

/// A change the lenient reader makes: the value at `steps` becomes `value`.
#[derive(Clone, Debug)]
pub(crate) struct Fixup {
    steps: Vec<Step>,
    value: String,
}

#[derive(Clone, Debug)]
enum Step {
    Member(String),
    Index(usize),
}

/// The zone local times are placed in, and the fixes found so far.
pub(crate) struct ZoneFix<'z> {
    zone: &'z str,
    fixups: Vec<Fixup>,
}

impl ZoneFix<'_> {
    /// Places a local `dateTime` in the zone; returns the warning to report, or `None` when
    /// the value is not a local time this reader may assume a zone for.
    pub(crate) fn place(&mut self, value: &Json, path: &Path) -> Option<Issue> {
        let text = value.as_str()?;
        let (date, time) = primitive::local_date_time(text)?;
        let offset = calendar::zone::utc_offset_at_local(self.zone, date, time).ok()?;
        let placed = format!("{text}{}", calendar::zone::format_offset(offset));
        let mut steps = Vec::new();
        let mut current = Some(path);
        while let Some(frame) = current {
            match frame.segment {
                Segment::Root(_) => {}
                Segment::Member(name) => steps.push(Step::Member(name.to_string())),
                Segment::Index(idx) => steps.push(Step::Index(idx)),
            }
            current = frame.parent;
        }
        steps.reverse();
        let zone = self.zone;
        let warning = Issue::warning(
            IssueCode::Value,
            format!(
                "La fecha y hora «{text}» no indica zona horaria; se interpretó como hora local de {zone} y se guardó como «{placed}»"
            ),
            format!(
                "The date-time '{text}' has no time zone; it was read as local time in {zone} and stored as '{placed}'"
            ),
        )
        .at(path.render());
        self.fixups.push(Fixup {
            steps,
            value: placed,
        });
        Some(warning)
    }

    pub(crate) fn into_fixups(self) -> Vec<Fixup> {
        self.fixups
    }
}

/// Validates `resource` as [`super::validate_resource`] does, except that a `dateTime` with a
/// time and no offset is read as local time in `zone` (a tz database name such as
/// `America/Mexico_City`): `resource` is changed to carry the offset, and a warning says so.
/// Returns every issue (errors for everything else that is wrong, as the strict validator).
pub fn validate_resource_assuming_zone(resource: &mut Json, zone: &str) -> Vec<Issue> {
    let mut issues = Vec::new();
    let fix = ZoneFix {
        zone,
        fixups: Vec::new(),
    };
    let fixups = super::walk(resource, &mut issues, Some(fix));
    for fixup in fixups {
        apply(resource, &fixup.steps, fixup.value);
    }
    issues
}

fn apply(resource: &mut Json, steps: &[Step], value: String) {
    let mut current = resource;
    for step in steps {
        let next = match (step, current) {
            (Step::Member(name), Json::Object(object)) => object.get_mut(name),
            (Step::Index(idx), Json::Array(items)) => items.get_mut(*idx),
            _ => None,
        };
        let Some(next) = next else {
            // The walk found the value on this very tree, so the path exists.
            return;
        };
        current = next;
    }
    *current = Json::String(value);
}
