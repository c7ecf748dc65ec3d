#!/usr/bin/env python3
"""Validates generated NDJSON against FHIR R4 (4.0.1) with the `fhir.resources` models, plus the checks
those models do not make: required value-set codes, dateTime/instant formats with a timezone, unique ids
and referential integrity.

Why `fhir.resources==6.4.0`: it is the last release whose models are R4 4.0.1 (6.5 moved to R4B 4.3.0,
7.x to R5). It needs pydantic 1.

    python3 -m venv /tmp/fhirvenv && /tmp/fhirvenv/bin/pip install "fhir.resources==6.4.0" "pydantic<2"
    cargo run --release -p synth --example generate -- --patients 200 --out /tmp/synth200
    /tmp/fhirvenv/bin/python crates/synth/tests/validate_r4.py /tmp/synth200

Exits 0 when there is no error, 1 otherwise; prints one line per problem (at most 50 per kind).
"""

import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

try:
    import fhir.resources
    from fhir.resources import construct_fhir_element
except ImportError:  # pragma: no cover - environment problem, reported plainly
    sys.exit("fhir.resources is not installed: pip install 'fhir.resources==6.4.0' 'pydantic<2'")

if getattr(fhir.resources, "__fhir_version__", "") != "4.0.1":
    sys.exit(f"fhir.resources {fhir.resources.__version__} models FHIR {fhir.resources.__fhir_version__}, not R4 4.0.1")

DATE = r"\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?"
DATETIME = re.compile(rf"^{DATE}(T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?(Z|[+-]((0\d|1[0-3]):[0-5]\d|14:00)))?$")
INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

# Codes of required bindings (R4) for the elements the generator fills.
REQUIRED = {
    ("Patient", "gender"): {"male", "female", "other", "unknown"},
    ("Practitioner", "gender"): {"male", "female", "other", "unknown"},
    ("Encounter", "status"): {"planned", "arrived", "triaged", "in-progress", "onleave", "finished", "cancelled", "entered-in-error", "unknown"},
    ("Observation", "status"): {"registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error", "unknown"},
    ("DiagnosticReport", "status"): {"registered", "partial", "preliminary", "final", "amended", "corrected", "appended", "cancelled", "entered-in-error", "unknown"},
    ("MedicationRequest", "status"): {"active", "on-hold", "cancelled", "completed", "entered-in-error", "stopped", "draft", "unknown"},
    ("MedicationRequest", "intent"): {"proposal", "plan", "order", "original-order", "reflex-order", "filler-order", "instance-order", "option"},
    ("ServiceRequest", "status"): {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"},
    ("ServiceRequest", "intent"): {"proposal", "plan", "directive", "order", "original-order", "reflex-order", "filler-order", "instance-order", "option"},
    ("ServiceRequest", "priority"): {"routine", "urgent", "asap", "stat"},
    ("Immunization", "status"): {"completed", "entered-in-error", "not-done"},
    ("AllergyIntolerance", "type"): {"allergy", "intolerance"},
    ("AllergyIntolerance", "criticality"): {"low", "high", "unable-to-assess"},
    ("Location", "status"): {"active", "suspended", "inactive"},
    ("Location", "mode"): {"instance", "kind"},
}
REQUIRED_CODINGS = {
    ("Condition", "clinicalStatus"): {"active", "recurrence", "relapse", "inactive", "remission", "resolved"},
    ("Condition", "verificationStatus"): {"unconfirmed", "provisional", "differential", "confirmed", "refuted", "entered-in-error"},
    ("AllergyIntolerance", "clinicalStatus"): {"active", "inactive", "resolved"},
    ("AllergyIntolerance", "verificationStatus"): {"unconfirmed", "confirmed", "refuted", "entered-in-error"},
}
INSTANT_FIELDS = {("DiagnosticReport", "issued"), ("Observation", "issued")}


def walk(node, path=""):
    """Yields (path, key, value) for every key of every object."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield path, k, v
            yield from walk(v, f"{path}.{k}")
    elif isinstance(node, list):
        for item in node:
            yield from walk(item, path)


class Report:
    def __init__(self):
        self.errors = defaultdict(list)

    def add(self, kind, message):
        self.errors[kind].append(message)

    def total(self):
        return sum(len(v) for v in self.errors.values())


def check_resource(res, report, ids, refs, where):
    rtype = res.get("resourceType")
    rid = res.get("id", "")
    try:
        construct_fhir_element(rtype, res)
    except Exception as e:  # pydantic ValidationError or unknown type
        report.add("model", f"{where} {rtype}/{rid}: {str(e)[:400]}")
    if not UUID.match(rid):
        report.add("id", f"{where} {rtype}/{rid}: id is not UUID-shaped")
    key = f"{rtype}/{rid}"
    if key in ids:
        report.add("id", f"{where} duplicate id {key}")
    ids.add(key)
    for (t, field), allowed in REQUIRED.items():
        if t == rtype and field in res and res[field] not in allowed:
            report.add("binding", f"{where} {key}: {field}={res[field]!r}")
    for (t, field), allowed in REQUIRED_CODINGS.items():
        if t == rtype and field in res:
            codes = [c.get("code") for c in res[field].get("coding", [])]
            if not codes or any(c not in allowed for c in codes):
                report.add("binding", f"{where} {key}: {field} codes {codes}")
    for path, k, v in walk(res):
        if k == "reference" and isinstance(v, str):
            refs.append((key, v))
        if isinstance(v, str) and (k.endswith("DateTime") or k in ("start", "end", "authoredOn", "recordedDate", "issued")):
            if not DATETIME.match(v):
                report.add("datetime", f"{where} {key}: {path}.{k}={v!r}")
            elif "T" in v and not re.search(r"(Z|[+-]\d{2}:\d{2})$", v):
                report.add("datetime", f"{where} {key}: {path}.{k}={v!r} has a time but no timezone")
    for t, field in INSTANT_FIELDS:
        if t == rtype and field in res and not INSTANT.match(res[field]):
            report.add("datetime", f"{where} {key}: {field}={res[field]!r} is not an instant")


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__)
    directory = Path(argv[1])
    files = sorted(directory.glob("*.ndjson"))
    if not files:
        sys.exit(f"no .ndjson files in {directory}")
    report = Report()
    ids, refs = set(), []
    counts = Counter()
    for path in files:
        with path.open(encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                where = f"{path.name}:{n}"
                try:
                    res = json.loads(line)
                except json.JSONDecodeError as e:
                    report.add("json", f"{where}: {e}")
                    continue
                if res.get("resourceType") == "Bundle":
                    check_resource(res, report, set(), [], where)
                    for entry in res.get("entry", []):
                        inner = entry.get("resource", {})
                        check_resource(inner, report, ids, refs, where)
                        expected = f"{inner.get('resourceType')}/{inner.get('id')}"
                        if entry.get("request", {}).get("url") != expected:
                            report.add("bundle", f"{where}: request.url {entry.get('request')} != {expected}")
                        counts[inner.get("resourceType")] += 1
                else:
                    check_resource(res, report, ids, refs, where)
                    counts[res.get("resourceType")] += 1
    for source, target in refs:
        if target not in ids:
            report.add("reference", f"{source} -> {target} does not resolve")
    for rtype, n in sorted(counts.items()):
        print(f"{rtype:20} {n:9}")
    print(f"{'total':20} {sum(counts.values()):9}")
    for kind, messages in sorted(report.errors.items()):
        print(f"\n{len(messages)} {kind} error(s):")
        for m in messages[:50]:
            print("  " + m)
    print(f"\n{report.total()} error(s)")
    return 1 if report.total() else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
