"""The node as an operator and an integrator see it from outside the process: health check,
graceful shutdown, restart, acknowledged writes surviving SIGKILL, and `expediente import`
reporting rejects (file, line, reason) and loading the rest, also into a running node."""

import gzip
import json
import signal
import threading
import time

import requests

from conftest import TOKENS, FhirClient, Node, new_tag, run_import
from samples import TAG_SYSTEM, patient


def test_healthz(node):
    response = requests.get(f"{node.origin}/healthz", timeout=10)
    assert response.status_code == 200


def test_sigterm_is_graceful_and_data_survives_restart(start_node, workdir):
    data_dir = workdir / f"restart-{new_tag()}"
    first = start_node(data_dir=data_dir)
    created = FhirClient(first.base).create(patient(new_tag()))
    first.proc.send_signal(signal.SIGTERM)
    assert first.proc.wait(timeout=10) == 0, "SIGTERM ends the node cleanly"
    second = start_node(data_dir=data_dir)
    assert FhirClient(second.base).get(f"Patient/{created['id']}").expect(200).body == created


def test_acknowledged_writes_survive_sigkill(start_node, workdir):
    data_dir = workdir / f"kill-{new_tag()}"
    victim = start_node(data_dir=data_dir)
    tag = new_tag()
    acknowledged = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer():
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {TOKENS[victim.base.rstrip('/')]}"
        while not stop.is_set():
            try:
                response = session.post(
                    f"{victim.base}/Patient",
                    data=json.dumps(patient(tag)),
                    headers={"Content-Type": "application/fhir+json"},
                    timeout=5,
                )
            except requests.RequestException:
                return
            if response.status_code == 201:
                with lock:
                    acknowledged.append(response.json()["id"])

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    victim.proc.kill()
    victim.proc.wait()
    stop.set()
    for thread in threads:
        thread.join()
    assert len(acknowledged) >= 5, "the writers should have been acknowledged several times"
    survivor = FhirClient(start_node(data_dir=data_dir).base)
    stored = set(survivor.ids("Patient", {"_tag": f"{TAG_SYSTEM}|{tag}", "_count": 500}))
    lost = set(acknowledged) - stored
    assert not lost, f"{len(lost)} of {len(acknowledged)} acknowledged writes lost"


def write_ndjson(path, resources, raw_lines=()):
    lines = [json.dumps(r) for r in resources] + list(raw_lines)
    text = "\n".join(lines) + "\n"
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)


def test_import_reports_rejects_with_file_and_line_and_loads_the_rest(workdir):
    tag = new_tag()
    good = [dict(patient(tag), id=f"imp-{tag}-{n}") for n in range(3)]
    bad = dict(patient(tag), id=f"imp-{tag}-bad", gender="mujer")
    source = workdir / f"mixed-{tag}.ndjson.gz"
    write_ndjson(source, good[:2] + [bad] + good[2:], raw_lines=["{not json"])
    data_dir = workdir / f"import-{tag}"
    result = run_import(data_dir, [source])
    assert result.returncode == 1, result.stderr  # loaded what was good, said not everything was
    assert "rechazados" in result.stderr
    rejected_lines = [line for line in result.stdout.splitlines() if line.startswith("rechazado")]
    assert len(rejected_lines) == 2, result.stdout
    assert any(f"{source}:3" in line and "gender" in line for line in rejected_lines), rejected_lines
    assert any(f"{source}:5" in line for line in rejected_lines), rejected_lines
    node = Node(data_dir)
    try:
        fhir = FhirClient(node.base)
        assert fhir.ids("Patient", {"_tag": f"{TAG_SYSTEM}|{tag}"}) == sorted(r["id"] for r in good)
        stored = fhir.get(f"Patient/{good[0]['id']}").expect(200).body
        assert {k: v for k, v in stored.items() if k != "meta"} == {k: v for k, v in good[0].items() if k != "meta"}
    finally:
        node.stop()


def test_import_strict_loads_nothing_on_a_reject(workdir):
    tag = new_tag()
    source = workdir / f"strict-{tag}.ndjson"
    write_ndjson(source, [dict(patient(tag), id=f"s-{tag}-1"), dict(patient(tag), id=f"s-{tag}-2", birthDate="1980-13-01")])
    data_dir = workdir / f"strict-{tag}"
    result = run_import(data_dir, [source], "--strict")
    assert result.returncode != 0
    node = Node(data_dir)
    try:
        assert FhirClient(node.base).ids("Patient", {"_tag": f"{TAG_SYSTEM}|{tag}"}) == []
    finally:
        node.stop()


def test_import_into_a_running_node_and_reimport_keeps_ids(node, workdir):
    tag = new_tag()
    resources = [{"resourceType": "Patient", "id": f"live-{tag}-{n}", **patient(tag)} for n in range(5)]
    source = workdir / f"live-{tag}.ndjson"
    write_ndjson(source, resources)
    first = run_import(node.data_dir, [source])
    assert first.returncode == 0, first.stdout + first.stderr
    fhir = FhirClient(node.base)
    assert fhir.ids("Patient", {"_tag": f"{TAG_SYSTEM}|{tag}"}) == sorted(r["id"] for r in resources)
    again = run_import(node.data_dir, [source])
    assert again.returncode == 0, again.stdout + again.stderr
    assert fhir.get(f"Patient/{resources[0]['id']}").body["meta"]["versionId"] == "1", "unchanged re-import"
    assert fhir.ids("Patient", {"_tag": f"{TAG_SYSTEM}|{tag}"}) == sorted(r["id"] for r in resources)


def test_reimport_of_identical_content_is_unchanged_whatever_the_key_order(workdir):
    """JSON member order carries no meaning, so the same resource written with `id` last (as many
    tools do) is the same content: re-importing it must not make a new version."""
    tag = new_tag()
    source = workdir / f"order-{tag}.ndjson"
    write_ndjson(source, [dict(patient(tag), id=f"order-{tag}")])  # "id" is the last member
    data_dir = workdir / f"order-{tag}"
    assert run_import(data_dir, [source]).returncode == 0
    again = run_import(data_dir, [source])
    assert again.returncode == 0
    node = Node(data_dir)
    try:
        stored = FhirClient(node.base).get(f"Patient/order-{tag}").expect(200).body
        assert stored["meta"]["versionId"] == "1", f"identical re-import made a new version:\n{again.stdout}"
    finally:
        node.stop()
