"""SMART App Launch v2 and Backend Services (issue 18) driven by the `fhirclient` package, the
SMART on FHIR project's own Python client: it reads the node's CapabilityStatement, builds the
authorization URL (PKCE S256), exchanges the code the node sends to a small local redirect
listener, reads the launch patient and refreshes its token. The browser's part (sign-in and
consent forms) is played by a `requests` session, as a browser would post them. The EHR
launch starts from a patient's chart in the web UI: the node sends the browser to the app's
launch URL with `iss` and `launch`, and fhirclient takes it from there (`launch_token`).

A backend service then signs its own ES384 client assertion (with `cryptography`) and gets a
`system/` token through fhirclient's `jwt_token` setting.
"""

import base64
import html
import json
import re
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from fhirclient import client as smart_client
from fhirclient.models.observation import Observation

from conftest import FhirClient, expediente_bin

PASSWORD = "Clave-de-prueba-2026"


class Listener:
    """The app's redirect URI: a loopback HTTP server that keeps the URLs it was sent to."""

    def __init__(self):
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                received.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"listo")

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self.server.server_port}/callback"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


def cli(*args, stdin=""):
    done = subprocess.run([expediente_bin(), *args], input=stdin, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def post_form_fields(page, action):
    """The hidden fields of the page's POST form to `action`, unescaped as a browser does."""
    start = page.index(f'method="post" action="{action}"')
    form = page[start : page.index("</form>", start)]
    return {
        html.unescape(name): html.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)
    }


@pytest.fixture(scope="module")
def world(start_node_module):
    node = start_node_module()
    data = str(node.data_dir)
    fhir = FhirClient(node.base)
    clues = "DFSSA001234"
    org = fhir.create({
        "resourceType": "Organization", "name": "Centro de Salud SMART",
        "identifier": [{"system": "https://expediente.salud.gob.mx/fhir/sid/clues", "value": clues}],
    })
    patients = []
    for given in ("Lucía", "Mateo"):
        patient = fhir.create({
            "resourceType": "Patient", "name": [{"family": "Ramírez", "given": [given]}],
            "gender": "female", "birthDate": "1990-01-01",
            "managingOrganization": {"reference": f"Organization/{org['id']}"},
        })
        fhir.create({
            "resourceType": "Observation", "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": f"Patient/{patient['id']}"},
            "valueQuantity": {"value": 70, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"},
        })
        patients.append(patient["id"])
    cli("user", "add", "--data", data, "--username", "dra.python", "--role", "physician",
        "--clues", clues, "--password-stdin", stdin=PASSWORD)
    listener = Listener()
    cli("app", "add", "--data", data, "--client-id", "app-python", "--name", "App de prueba",
        "--redirect-uri", listener.uri, "--public")
    yield node, patients, listener
    listener.stop()


def test_fhirclient_standalone_launch_with_pkce_patient_picker_and_refresh(world):
    node, (lucia, mateo), listener = world
    settings = {
        "app_id": "app-python",
        "api_base": node.base,
        "redirect_uri": listener.uri,
        "scope": "openid fhirUser offline_access patient/*.rs",
    }
    app = smart_client.FHIRClient(settings=settings)
    assert not app.ready
    url = app.authorize_url
    assert url.startswith(f"{node.origin}/auth/authorize?"), url
    assert "code_challenge_method=S256" in url and "launch%2Fpatient" in url

    browser = requests.Session()
    signin = browser.get(url, timeout=30)
    assert signin.status_code == 200, signin.text
    assert "Contraseña" in signin.text
    fields = post_form_fields(signin.text, "/ui/autorizar/entrar")
    consent = browser.post(f"{node.origin}/ui/autorizar/entrar",
                           data={**fields, "user": "dra.python", "password": PASSWORD}, timeout=30)
    assert consent.status_code == 200, consent.text
    assert "Permitir" in consent.text and "del paciente elegido" in consent.text
    offered = re.findall(r'name="patient" value="([^"]+)"', consent.text)
    assert lucia in offered, offered
    fields = post_form_fields(consent.text, "/ui/autorizar")
    back = browser.post(f"{node.origin}/ui/autorizar",
                        data={**fields, "patient": lucia, "decision": "permitir"}, timeout=30)
    # The browser followed the redirect to the app's listener.
    assert back.status_code == 200 and back.text == "listo", back.text
    callback = listener.received[-1]
    assert "code=" in callback

    app.handle_callback(f"http://127.0.0.1{callback}")
    assert app.ready
    assert app.patient_id == lucia
    assert app.patient.id == lucia
    assert app.human_name(app.patient.name[0]) == "Lucía Ramírez"
    mine = list(Observation.where(struct={"patient": lucia}).perform_resources_iter(app.server))
    assert [o.subject.reference for o in mine] == [f"Patient/{lucia}"]
    # Searching without naming the patient still returns only the launch patient's.
    every = list(Observation.where(struct={}).perform_resources_iter(app.server))
    assert {o.subject.reference for o in every} == {f"Patient/{lucia}"}
    assert list(Observation.where(struct={"patient": mateo}).perform_resources_iter(app.server)) == []
    with pytest.raises(Exception, match="404|not found|Not Found"):
        app.server.request_json(f"Patient/{mateo}")

    old_token = app.server.auth.access_token
    assert app.reauthorize()
    assert app.server.auth.access_token != old_token
    assert app.patient_id == lucia


def test_fhirclient_ehr_launch_from_the_patients_chart(world):
    node, (lucia, mateo), listener = world
    launch_url = listener.uri.replace("/callback", "/launch")
    cli("app", "add", "--data", str(node.data_dir), "--client-id", "app-ehr-python",
        "--name", "Calculadora", "--redirect-uri", listener.uri, "--launch-url", launch_url, "--public")

    # The clinician signs in to the web UI and opens the app from Lucía's chart.
    browser = requests.Session()
    signin = browser.get(f"{node.origin}/ui/entrar", timeout=30)
    fields = post_form_fields(signin.text, "/ui/entrar")
    home = browser.post(f"{node.origin}/ui/entrar",
                        data={**fields, "user": "dra.python", "password": PASSWORD}, timeout=30)
    assert home.status_code == 200, home.text
    chart = browser.get(f"{node.origin}/ui/pacientes/{lucia}", timeout=30)
    assert chart.status_code == 200, chart.text
    link = f"/ui/pacientes/{lucia}/lanzar/app-ehr-python"
    assert "Aplicaciones" in chart.text and f'href="{link}"' in chart.text, chart.text
    launched = browser.get(f"{node.origin}{link}", timeout=30)
    # The browser followed the node's redirect to the app's launch URL.
    assert launched.status_code == 200 and launched.text == "listo", launched.text
    sent = urlsplit(listener.received[-1])
    assert sent.path == "/launch", listener.received[-1]
    query = parse_qs(sent.query)
    assert query["iss"] == [node.base.rstrip("/")], query

    # The app: fhirclient in EHR-launch mode, with what the launch URL received.
    app = smart_client.FHIRClient(settings={
        "app_id": "app-ehr-python",
        "api_base": query["iss"][0],
        "redirect_uri": listener.uri,
        "launch_token": query["launch"][0],
        "scope": "openid fhirUser patient/*.rs",
    })
    url = app.authorize_url
    assert "launch=" in url and "scope=launch" in url, url
    consent = browser.get(url, timeout=30)
    assert consent.status_code == 200, consent.text
    assert "Lucía Ramírez" in consent.text, consent.text
    assert 'name="patient"' not in consent.text, "no picker in an EHR launch"
    fields = post_form_fields(consent.text, "/ui/autorizar")
    back = browser.post(f"{node.origin}/ui/autorizar", data={**fields, "decision": "permitir"}, timeout=30)
    assert back.status_code == 200 and back.text == "listo", back.text
    app.handle_callback(f"http://127.0.0.1{listener.received[-1]}")
    assert app.ready
    assert app.patient_id == lucia
    assert app.human_name(app.patient.name[0]) == "Lucía Ramírez"
    every = list(Observation.where(struct={}).perform_resources_iter(app.server))
    assert {o.subject.reference for o in every} == {f"Patient/{lucia}"}
    with pytest.raises(Exception, match="404|not found|Not Found"):
        app.server.request_json(f"Patient/{mateo}")

    # The launch served that one approval.
    again = browser.get(url, timeout=30)
    assert again.status_code == 400 and "ya se usó" in again.text, again.text


def _b64(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_fhirclient_backend_service_signs_its_own_es384_assertion(world):
    node, (lucia, _), _ = world
    key = ec.generate_private_key(ec.SECP384R1())
    numbers = key.public_key().public_numbers()
    jwks = {"keys": [{"kty": "EC", "crv": "P-384", "kid": "clave-1", "alg": "ES384", "use": "sig",
                      "x": _b64(numbers.x.to_bytes(48, "big")), "y": _b64(numbers.y.to_bytes(48, "big"))}]}
    jwks_path = node.data_dir.parent / "servicio-jwks.json"
    jwks_path.write_text(json.dumps(jwks))
    cli("app", "add", "--data", str(node.data_dir), "--client-id", "servicio-python",
        "--jwks-file", str(jwks_path), "--scopes", "system/Observation.rs system/Patient.rs")

    def assertion():
        header = {"alg": "ES384", "typ": "JWT", "kid": "clave-1"}
        claims = {"iss": "servicio-python", "sub": "servicio-python", "aud": f"{node.origin}/auth/token",
                  "exp": int(time.time()) + 240, "jti": uuid.uuid4().hex}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA384())))
        return f"{signing_input}.{_b64(r.to_bytes(48, 'big') + s.to_bytes(48, 'big'))}"

    signed = assertion()
    service = smart_client.FHIRClient(settings={
        "app_id": "servicio-python", "api_base": node.base,
        "scope": "system/Observation.rs", "jwt_token": signed,
    })
    # fhirclient finds the token endpoint in the CapabilityStatement's SMART extension.
    service.server.get_capability()
    service.authorize()
    assert service.ready
    found = list(Observation.where(struct={"patient": lucia}).perform_resources_iter(service.server))
    assert len(found) == 1

    # The same assertion again is a replay.
    replay = requests.post(f"{node.origin}/auth/token", data={
        "grant_type": "client_credentials", "scope": "system/Observation.rs",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": signed,
    }, timeout=30)
    assert replay.status_code == 401, replay.text
