"""Second opinion on our AuditEvent JSON: parse each file with the R4 models of `fhir.resources`.

Usage (not part of `cargo test`; needs Python packages):
    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install "fhir.resources==6.1.0" "pydantic<2"
    mkdir -p /tmp/ae && AUTH_DUMP_AUDIT_EVENTS=/tmp/ae cargo test -p auth --test it audit_event
    /tmp/venv/bin/python crates/auth/tests/validate_audit_events.py /tmp/ae
fhir.resources 6.1.0 models FHIR 4.0.1 (R4) at top level and rejects unknown elements, wrong
cardinalities and wrong primitive formats.
"""

import pathlib
import sys

import fhir.resources
from fhir.resources.auditevent import AuditEvent

assert fhir.resources.__fhir_version__ == "4.0.1", fhir.resources.__fhir_version__
files = sorted(pathlib.Path(sys.argv[1]).glob("audit-event-*.json"))
assert files, "no AuditEvent files found"
for path in files:
    event = AuditEvent.parse_file(path)
    assert event.agent and event.source.observer and event.recorded, path
print(f"{len(files)} passed, 0 failed")
