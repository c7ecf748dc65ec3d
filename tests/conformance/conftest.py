"""Fixtures for the third-party client check: start real `expediente serve` nodes, talk to them
with plain `requests` as any outside FHIR client would, and validate every FHIR body they
return with the `fhir.resources` R4 models (see fhir_models.py).

Why from the outside: the Rust tests prove what the code means to do; these prove that software
nobody on the team wrote agrees the server speaks FHIR R4.
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from fhir_models import validate

REPO = Path(__file__).resolve().parents[2]
# CI clones the repository with shared/ beside it.
SYNTHEA = REPO.parent / "shared" / "fixtures" / "synthea"
FHIR_JSON = "application/fhir+json"
STARTUP_TIMEOUT_S = 30


def expediente_bin():
    raw = os.environ.get("EXPEDIENTE_BIN", "target/debug/expediente")
    path = Path(raw)
    if not path.is_absolute():
        path = (Path.cwd() / path) if (Path.cwd() / path).exists() else (REPO / path)
    assert path.exists(), f"EXPEDIENTE_BIN={raw} not found (build it: cargo build -p cli --bin expediente)"
    return str(path)


def run_import(data_dir, files, *extra):
    """Runs `expediente import --data DIR FILES...` (node not running) and returns the result."""
    return subprocess.run(
        [expediente_bin(), "import", "--data", str(data_dir), *extra, *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
    )


# The suite signs in as a third-party integration would: a system account with a client
# secret, made with the CLI, and an OAuth2 client-credentials token from `/auth/token`.
CLIENT_ID = "conformidad"
CLIENT_SECRET = "s3creto-del-cliente-R4"
TOKENS = {}


def ensure_client_account(data_dir):
    listed = subprocess.run(
        [expediente_bin(), "user", "list", "--data", str(data_dir)],
        capture_output=True, text=True, timeout=60,
    )
    # Exit 2: no node there yet (`user list` never creates one); `user add` below does.
    assert listed.returncode in (0, 2), listed.stderr
    if any(line.split("\t")[0] == CLIENT_ID for line in listed.stdout.splitlines()):
        return
    added = subprocess.run(
        [expediente_bin(), "user", "add", "--data", str(data_dir), "--username", CLIENT_ID,
         "--role", "system", "--password-stdin"],
        input=CLIENT_SECRET, capture_output=True, text=True, timeout=60,
    )
    assert added.returncode == 0, added.stderr


def fetch_token(base):
    parts = urlsplit(base)
    response = requests.post(
        f"{parts.scheme}://{parts.netloc}/auth/token",
        data={"grant_type": "client_credentials"},
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=60,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    return body["access_token"]


class Node:
    """One `expediente serve` process on a free port with its own data directory."""

    def __init__(self, data_dir, *extra_args):
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        ensure_client_account(self.data_dir)
        self.log_path = self.data_dir.parent / (self.data_dir.name + ".serve.log")
        self.err_path = self.data_dir.parent / (self.data_dir.name + ".serve.err")
        self._out = open(self.log_path, "w")
        self._err = open(self.err_path, "w")
        self.proc = subprocess.Popen(
            [expediente_bin(), "serve", "--listen", "127.0.0.1:0", "--data", str(self.data_dir), *extra_args],
            stdout=self._out,
            stderr=self._err,
            stdin=subprocess.DEVNULL,
        )
        self.base = self._wait_for_url()
        TOKENS[self.base.rstrip("/")] = fetch_token(self.base)

    def _wait_for_url(self):
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            text = self.log_path.read_text()
            for line in text.splitlines():
                if line.startswith("Expediente escuchando en "):
                    url = line[len("Expediente escuchando en ") :].split()[0]
                    assert url.startswith("http://127.0.0.1:") and url.endswith("/fhir"), line
                    return url
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited {self.proc.returncode}: {self.err_path.read_text()[-2000:]}")
            time.sleep(0.02)
        raise RuntimeError("serve did not print its URL in time")

    @property
    def origin(self):
        parts = urlsplit(self.base)
        return f"{parts.scheme}://{parts.netloc}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()
        self._err.close()


class FhirResponse:
    """A `requests` response plus its JSON body, already validated as FHIR R4."""

    def __init__(self, response):
        self.raw = response
        self.status = response.status_code
        self.headers = response.headers
        self.body = None
        self.model = None
        text = response.text
        if text.strip():
            content_type = response.headers.get("Content-Type", "")
            assert content_type.startswith(FHIR_JSON), (
                f"{response.request.method} {response.url} -> {self.status} Content-Type {content_type!r}: {text[:300]}"
            )
            try:
                self.body = response.json()
            except ValueError as err:
                raise AssertionError(f"{response.request.method} {response.url}: body is not JSON: {text[:300]}") from err
            self.model = validate(self.body)
            if self.status >= 400:
                assert self.body["resourceType"] == "OperationOutcome", (
                    f"{response.request.method} {response.url} -> {self.status} but body is {self.body['resourceType']}"
                )

    def __repr__(self):
        return f"<{self.raw.request.method} {self.raw.url} -> {self.status} {str(self.body)[:400]}>"

    def expect(self, status):
        assert self.status == status, f"expected {status}: {self!r}"
        return self

    @property
    def resource_type(self):
        return self.body["resourceType"] if self.body else None

    def entries(self):
        return [e["resource"] for e in self.body.get("entry", []) if "resource" in e]

    def link(self, relation):
        for link in self.body.get("link", []):
            if link["relation"] == relation:
                return link["url"]
        return None


class FhirClient:
    """The third-party client: plain HTTP, FHIR JSON, every body validated."""

    def __init__(self, base):
        self.base = base.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Accept"] = FHIR_JSON
        token = TOKENS.get(self.base)
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def url(self, path):
        if path.startswith("http://") or path.startswith("https://"):
            return path
        return f"{self.base}/{path.lstrip('/')}" if path else self.base

    def request(self, method, path, json_body=None, headers=None, **kwargs):
        headers = dict(headers or {})
        if json_body is not None:
            kwargs["data"] = json.dumps(json_body).encode()
            headers.setdefault("Content-Type", FHIR_JSON)
        response = self.session.request(method, self.url(path), headers=headers, timeout=60, **kwargs)
        return FhirResponse(response)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, body=None, **kwargs):
        return self.request("POST", path, json_body=body, **kwargs)

    def put(self, path, body=None, **kwargs):
        return self.request("PUT", path, json_body=body, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)

    def create(self, resource):
        return self.post(resource["resourceType"], resource).expect(201).body

    def search(self, resource_type, params=None, **kwargs):
        """GET search; returns the searchset Bundle response."""
        response = self.get(resource_type, params=params, **kwargs)
        assert response.status == 200, repr(response)
        assert response.resource_type == "Bundle" and response.body["type"] == "searchset", repr(response)
        self.check_full_urls(response)
        return response

    def check_full_urls(self, response):
        """R4: a search entry's fullUrl is the absolute URL of the resource on this server."""
        for entry in response.body.get("entry", []):
            resource = entry.get("resource", {})
            if entry.get("search", {}).get("mode") in ("match", "include"):
                expected = f"{self.base}/{resource['resourceType']}/{resource['id']}"
                assert entry.get("fullUrl") == expected, f"fullUrl {entry.get('fullUrl')!r} != {expected!r}"

    def search_all(self, resource_type, params=None, max_pages=200):
        """Follows `next` links; returns every match-mode resource across pages."""
        response = self.search(resource_type, params)
        found = []
        for _ in range(max_pages):
            found += [
                e["resource"]
                for e in response.body.get("entry", [])
                if e.get("search", {}).get("mode", "match") == "match"
            ]
            nxt = response.link("next")
            if not nxt:
                return found
            response = self.get(nxt).expect(200)
            self.check_full_urls(response)
        raise AssertionError("too many pages")

    def ids(self, resource_type, params=None):
        return sorted(r["id"] for r in self.search_all(resource_type, params))


def new_tag():
    """A unique marker so tests sharing one node only ever see their own data."""
    return uuid.uuid4().hex[:12]


@pytest.fixture(scope="session")
def workdir():
    path = Path(tempfile.mkdtemp(prefix="expediente-conformance-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def node(workdir):
    """A fresh, empty node shared by the interaction tests (each test uses its own markers)."""
    started = Node(workdir / "shared-node")
    yield started
    started.stop()


@pytest.fixture(scope="session")
def fhir(node):
    return FhirClient(node.base)


def node_factory(workdir):
    """Yields `start(*extra_cli_args, data_dir=None) -> Node`; stops every node it started."""
    nodes = []

    def start(*extra_args, data_dir=None):
        started = Node(data_dir or (workdir / f"node-{uuid.uuid4().hex[:8]}"), *extra_args)
        nodes.append(started)
        return started

    yield start
    for started in nodes:
        started.stop()


@pytest.fixture
def start_node(workdir):
    """Extra nodes for one test (own data dir, extra CLI flags)."""
    yield from node_factory(workdir)


@pytest.fixture(scope="module")
def start_node_module(workdir):
    """Extra nodes shared by one test module."""
    yield from node_factory(workdir)
