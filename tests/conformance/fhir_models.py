"""Strict R4 (4.0.1) validation of everything the server returns, with the `fhir.resources` models.

Why a shim: `fhir.resources==6.1.0` is the last release whose default models are FHIR R4 4.0.1,
and it is written against the pydantic 1 API. Machines often carry pydantic 2 for other tools,
and downgrading it globally would break them. Pydantic 2 ships the whole pydantic 1 API as
`pydantic.v1`, so when pydantic 2 is installed we make `import pydantic` (and its submodules)
resolve to `pydantic.v1` for this test process only. Nothing else in the suite uses pydantic.
"""

import importlib
import importlib.abc
import importlib.util
import sys


def _alias_pydantic_v1():
    import pydantic

    if pydantic.VERSION.startswith("1."):
        return
    import pydantic.v1 as v1

    class _V1Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        """Maps `pydantic.X` to the already-shipped `pydantic.v1.X`."""

        def find_spec(self, name, path, target=None):
            if name.startswith("pydantic.") and not name.startswith("pydantic.v1"):
                return importlib.util.spec_from_loader(name, self)
            return None

        def create_module(self, spec):
            return importlib.import_module("pydantic.v1" + spec.name[len("pydantic") :])

        def exec_module(self, module):
            pass

    for name in list(sys.modules):
        if name == "pydantic" or (name.startswith("pydantic.") and not name.startswith("pydantic.v1")):
            del sys.modules[name]
    sys.meta_path.insert(0, _V1Alias())
    sys.modules["pydantic"] = v1


_alias_pydantic_v1()

import fhir.resources  # noqa: E402
from fhir.resources import construct_fhir_element  # noqa: E402

assert fhir.resources.__fhir_version__ == "4.0.1", fhir.resources.__fhir_version__


# Required bindings the models do not enforce (they type codes as plain strings), checked here
# for the resources the server itself composes (R4 value sets issue-severity, issue-type,
# bundle-type, search-entry-mode, http-verb).
ISSUE_SEVERITY = {"fatal", "error", "warning", "information"}
ISSUE_TYPE = set(
    "invalid structure required value invariant security login unknown expired forbidden suppressed "
    "processing not-supported duplicate multiple-matches not-found deleted too-long code-invalid "
    "extension too-costly business-rule conflict transient lock-error no-store exception timeout "
    "incomplete throttled informational".split()
)
BUNDLE_TYPE = set(
    "document message transaction transaction-response batch batch-response history searchset collection".split()
)
SEARCH_MODE = {"match", "include", "outcome"}
HTTP_VERB = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"}


class InvalidFhir(AssertionError):
    """The server returned JSON that the R4 models reject."""


def validate(resource, expected_type=None):
    """Parses `resource` (a dict) with the R4 model of its type; returns the model.

    A Bundle's model parses every entry's resource with that resource's own model, so a
    Bundle validates all it carries. Raises InvalidFhir with the pydantic report otherwise.
    """
    if not isinstance(resource, dict) or "resourceType" not in resource:
        raise InvalidFhir(f"not a FHIR resource: {str(resource)[:300]}")
    resource_type = resource["resourceType"]
    if expected_type is not None and resource_type != expected_type:
        raise InvalidFhir(f"expected {expected_type}, got {resource_type}: {str(resource)[:500]}")
    try:
        model = construct_fhir_element(resource_type, resource)
    except Exception as err:  # pydantic ValidationError, KeyError for unknown types, ...
        if resource_type == "Bundle":
            # Name the entry at fault: validate each one on its own.
            for entry in resource.get("entry", []) or []:
                if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
                    validate(entry["resource"])
        raise InvalidFhir(
            f"fhir.resources rejects the server's {resource_type}: {err}\n{str(resource)[:1500]}"
        ) from err
    if resource_type == "OperationOutcome":
        for issue in resource["issue"]:
            _check_code(issue["severity"], ISSUE_SEVERITY, "OperationOutcome.issue.severity", resource)
            _check_code(issue["code"], ISSUE_TYPE, "OperationOutcome.issue.code", resource)
    if resource_type == "Bundle":
        _check_code(resource["type"], BUNDLE_TYPE, "Bundle.type", resource)
        for entry in resource.get("entry", []) or []:
            if "search" in entry and "mode" in entry["search"]:
                _check_code(entry["search"]["mode"], SEARCH_MODE, "Bundle.entry.search.mode", resource)
            if "request" in entry:
                _check_code(entry["request"]["method"], HTTP_VERB, "Bundle.entry.request.method", resource)
        for entry in resource.get("entry", []) or []:
            # The Bundle model already parsed these; re-check what the models leave as plain codes.
            inner = entry.get("resource")
            if inner and inner["resourceType"] in ("OperationOutcome", "Bundle"):
                validate(inner)
            outcome = (entry.get("response") or {}).get("outcome")
            if outcome:
                validate(outcome, "OperationOutcome")
    return model


def _check_code(value, allowed, path, resource):
    if value not in allowed:
        raise InvalidFhir(f"{path} = {value!r} is not in its required value set: {str(resource)[:500]}")
