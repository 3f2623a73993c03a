"""Run oss2's own test suite (aliyun-oss-python-sdk ``tests/``) against the local OSS, once per signature version,
and print how many of its tests pass, by tier, with the reason of each failure. A benchmark of protocol fidelity, not
a CI test: it needs a checkout of oss2's repository, which CI cannot fetch; without one it says so and exits 0.

Run: ``.venv/bin/python scripts/oss2_suite.py [--repo PATH] [--ref REF] [--versions v1 v4] [--tier 1 2 3] [--no-kms]``.
``--repo``: a clone (or bare git directory) of github.com/aliyun/aliyun-oss-python-sdk (default ``$OSS2_SDK_REPO``);
``--ref``: the commit of the pinned oss2 release (2.19.1: ``3a522ea``; default ``HEAD``). Its ``tests/`` is exported
into a scratch directory and run with pytest as a subprocess, with the suite's own environment variables pointing at a
local OSS started here (``OSS_TEST_ENDPOINT``, keys, region ``cn-hangzhou``, ``OSS_TEST_AUTH_VERSION``).

Tiers: the test files that exercise what the local OSS implements (docs/localstack.md), from the core outwards.
1. signatures: ``test_sign.py``;
2. objects and multipart: ``test_multipart.py``, ``test_chinese.py``, ``test_list_objects_v2.py``;
3. transfers: ``test_download.py`` (resumable and ranged downloads, gzip), ``test_upload.py`` (resumable uploads).

The suite's network, arranged with the standard proxy variables (nothing in its files is changed):
- ``HTTP_PROXY`` is the local OSS, ``NO_PROXY`` its own address: tests that name a real endpoint
  (``http://oss-cn-shanghai.aliyuncs.com``, where OSS first offered sequential uploads) reach the local OSS too, which
  accepts the absolute-form request lines a client sends to a proxy.
- ``HTTPS_PROXY`` is a stand-in for Alibaba Cloud KMS started here (``--no-kms``: none). A third of the tier 3 tests
  pick at random oss2's ``CryptoBucket`` with ``AliKMSProvider``, client-side encryption whose data keys come from the
  KMS service (GenerateDataKey, Encrypt, Decrypt at ``https://kms.<region>.aliyuncs.com``), not from OSS. The stand-in
  answers those three actions for the suite's key id (AES-GCM under one random key per run; no key management, no
  signature check), over TLS with a certificate from a CA made for the run (``ALIBABA_CLOUD_CA_BUNDLE``, which the KMS
  SDK reads); every OSS request of those tests still goes to the local OSS. Without it they fail at random, on KMS.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import secrets
import socketserver
import ssl
import subprocess
import sys
import tarfile
import tempfile
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "function"), str(ROOT / "localstack")]

TIERS = {
    1: ["test_sign.py"],
    2: ["test_multipart.py", "test_chinese.py", "test_list_objects_v2.py"],
    3: ["test_download.py", "test_upload.py"],
}
KMS_HOST = re.compile(r"kms\.[a-z0-9-]+\.aliyuncs\.com")


def export_tests(repo: Path, ref: str, into: Path) -> Path:
    """``tests/`` of ``repo`` at ``ref``, written under ``into`` (works for a bare git directory too)."""
    archive = subprocess.run(["git", "-C", str(repo), "archive", ref, "tests"], capture_output=True, check=True)
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    # Some of its files import ``mock``, the Python 2 backport; the standard library's is the same API.
    (into / "mock.py").write_text("from unittest.mock import *  # noqa: F403\nfrom unittest.mock import patch\n")
    return into / "tests"


def run_tier(tests: Path, files: list[str], env: dict[str, str]) -> tuple[int, int, list[tuple[str, str]]]:
    """pytest on ``files``: (passed, total, (name, reason) of each failure)."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", "-rfE",
               "--timeout", "300", *(f"tests/{f}" for f in files)]  # fmt: skip
    done = subprocess.run(command, cwd=tests.parent, env=env, capture_output=True, text=True)
    out = done.stdout
    passed = sum(int(n) for n in re.findall(r"(\d+) passed", out))
    failed = sum(int(n) for n in re.findall(r"(\d+) (?:failed|errors?)\b", out))
    failures = re.findall(r"^(?:FAILED|ERROR) (\S+)(?: - (.*))?$", out, re.M)
    return passed, passed + failed, failures


# -- the KMS stand-in -----------------------------------------------------------------------------------------------


def make_certificates(into: Path, host: str) -> tuple[Path, Path, Path]:
    """A CA made for this run and a server certificate it signs for ``host``: (CA file, certificate, key)."""
    now = datetime.now(timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "oss2 suite stand-in CA")])

    def builder(subject: x509.Name, public: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_name).public_key(public)
                .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(hours=1))
                .not_valid_after(now + timedelta(days=1)))  # fmt: skip

    usage = x509.KeyUsage(True, False, False, False, False, True, True, False, False)  # sign, certificates, CRLs
    ca = (builder(ca_name, ca_key.public_key()).add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
          .add_extension(usage, True).add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
          .sign(ca_key, hashes.SHA256()))  # fmt: skip
    leaf = (builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]), key.public_key())
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False)
            .sign(ca_key, hashes.SHA256()))  # fmt: skip
    paths = into / "ca.pem", into / "kms.pem", into / "kms.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return paths


class KmsProxy(ThreadingHTTPServer):
    """An HTTPS proxy that answers a CONNECT to ``kms.<region>.aliyuncs.com`` itself, as the KMS stand-in."""

    daemon_threads = True

    def __init__(self, scratch: Path, access_key_id: str, region: str) -> None:
        super().__init__(("127.0.0.1", 0), ProxyHandler)
        self.access_key_id = access_key_id
        self.calls: dict[str, int] = {}  # action -> times answered, printed with the figures
        self.lock = threading.Lock()
        self.aead = AESGCM(AESGCM.generate_key(256))
        self.ca, cert, key = make_certificates(scratch, f"kms.{region}.aliyuncs.com")
        self.tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.tls.load_cert_chain(cert, key)
        self.thread = threading.Thread(target=self.serve_forever, name="kms-stand-in", daemon=True)

    def env(self) -> dict[str, str]:
        url = f"http://127.0.0.1:{self.server_address[1]}"
        return {"HTTPS_PROXY": url, "https_proxy": url, "ALIBABA_CLOUD_CA_BUNDLE": str(self.ca)}

    def wrap(self, key_id: str, text: str, context: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = self.aead.encrypt(nonce, text.encode(), f"{key_id}\0{context}".encode())
        return base64.b64encode(bytes([len(key_id.encode())]) + key_id.encode() + nonce + sealed).decode()

    def unwrap(self, blob: str, context: str) -> tuple[str, str]:
        raw = base64.b64decode(blob)
        key_id = raw[1 : 1 + raw[0]].decode()
        nonce, sealed = raw[1 + raw[0] : 13 + raw[0]], raw[13 + raw[0] :]
        return key_id, self.aead.decrypt(nonce, sealed, f"{key_id}\0{context}".encode()).decode()


class ProxyHandler(BaseHTTPRequestHandler):
    server: KmsProxy
    protocol_version = "HTTP/1.1"

    def do_CONNECT(self) -> None:
        if not KMS_HOST.fullmatch(self.path.rsplit(":", 1)[0]):
            self.send_error(403, "only the KMS stand-in is reachable through this proxy")
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        self.close_connection = True
        try:
            tls = self.server.tls.wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError):
            return
        KmsApi(tls, self.client_address, self.server)

    def log_message(self, format: str, *args: object) -> None:
        pass


class KmsApi(BaseHTTPRequestHandler):
    """KMS's RPC API (2016-01-20) for what ``oss2.AliKMSProvider`` calls: GenerateDataKey, Encrypt, Decrypt."""

    protocol_version = "HTTP/1.1"

    def __init__(self, request: ssl.SSLSocket, address: tuple[str, int], server: socketserver.BaseServer) -> None:
        assert isinstance(server, KmsProxy)
        self.kms = server
        super().__init__(request, address, server)

    def do_GET(self) -> None:
        self.do_POST()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        p = dict(parse_qsl(urlsplit(self.path).query)) | dict(parse_qsl(body))
        action, context, key_id = p.get("Action", ""), p.get("EncryptionContext", ""), p.get("KeyId", "")
        with self.kms.lock:
            self.kms.calls[action] = self.kms.calls.get(action, 0) + 1
        if p.get("AccessKeyId") != self.kms.access_key_id:
            return self.answer(
                404, {"Code": "InvalidAccessKeyId.NotFound", "Message": "Specified access key is not found."}
            )
        try:
            if action == "GenerateDataKey" and key_id:
                plain = base64.b64encode(secrets.token_bytes(int(p.get("NumberOfBytes") or 32))).decode()
                return self.answer(200, {"KeyId": key_id, "Plaintext": plain,
                                         "CiphertextBlob": self.kms.wrap(key_id, plain, context)})  # fmt: skip
            if action == "Encrypt" and key_id:
                return self.answer(
                    200, {"KeyId": key_id, "CiphertextBlob": self.kms.wrap(key_id, p["Plaintext"], context)}
                )
            if action == "Decrypt":
                key_id, plain = self.kms.unwrap(p["CiphertextBlob"], context)
                return self.answer(200, {"KeyId": key_id, "Plaintext": plain})
        except (KeyError, ValueError, IndexError):
            return self.answer(400, {"Code": "InvalidParameter", "Message": "A parameter is missing or invalid."})
        return self.answer(400, {"Code": "MissingParameter", "Message": f"{action or 'Action'}: not answered here."})

    def answer(self, status: int, doc: dict[str, str]) -> None:
        data = json.dumps({**doc, "RequestId": secrets.token_hex(16)}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


# -- the run ----------------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, default=Path(os.environ.get("OSS2_SDK_REPO", "/nonexistent")))
    parser.add_argument("--ref", default="HEAD")
    parser.add_argument("--versions", nargs="*", default=["v1", "v4"])
    parser.add_argument("--tier", nargs="*", type=int, default=sorted(TIERS))
    parser.add_argument("--no-kms", action="store_true", help="no KMS stand-in: crypto-bucket tests fail on KMS")
    args = parser.parse_args()
    if not (args.repo / "HEAD").exists() and not (args.repo / ".git").exists():
        print(f"skipped: no checkout of aliyun-oss-python-sdk at {args.repo} (--repo or OSS2_SDK_REPO)")
        return 0
    from ossfaces_localstack.oss import LocalOss

    print(f"$ {' '.join([Path(sys.executable).name, *sys.argv])}   [load {os.getloadavg()[0]:.2f}]")
    with tempfile.TemporaryDirectory(prefix="oss2-suite-") as scratch:
        tests = export_tests(args.repo, args.ref, Path(scratch) / "sdk")
        totals: dict[str, tuple[int, int]] = {}
        for version in args.versions:
            with LocalOss(Path(scratch) / f"data-{version}", fsync=False) as oss:
                env = os.environ | {
                    "OSS_TEST_ACCESS_KEY_ID": oss.access_key_id,
                    "OSS_TEST_ACCESS_KEY_SECRET": oss.access_key_secret,
                    "OSS_TEST_ENDPOINT": oss.endpoint,
                    "OSS_TEST_REGION": oss.region,
                    "OSS_TEST_AUTH_VERSION": version,
                    "HTTP_PROXY": oss.endpoint, "http_proxy": oss.endpoint,
                    "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
                    "COLUMNS": "220",  # room for each failure's reason in pytest's summary
                }  # fmt: skip
                kms = None if args.no_kms else KmsProxy(Path(scratch), oss.access_key_id, oss.region)
                if kms is not None:
                    kms.thread.start()
                    env |= kms.env()
                passed_all = total_all = 0
                for tier in args.tier:
                    passed, total, failures = run_tier(tests, TIERS[tier], env)
                    passed_all, total_all = passed_all + passed, total_all + total
                    on_kms = sum("kms." in reason for _, reason in failures)
                    note = f" ({on_kms} of the failures on the KMS service)" if on_kms else ""
                    print(
                        f"{version} tier {tier} ({', '.join(TIERS[tier])}): {passed}/{total} passed{note}", flush=True
                    )
                    for name, reason in failures:
                        print(f"    failed: {name} - {reason[:160]}")
                if kms is not None:
                    kms.shutdown()
                    kms.server_close()
                    calls = ", ".join(f"{n} {action}" for action, n in sorted(kms.calls.items())) or "none"
                    print(f"    (KMS stand-in calls: {calls})")
                totals[version] = (passed_all, total_all)
        kms_note = "no KMS stand-in" if args.no_kms else "KMS stand-in"
        for version, (passed, total) in totals.items():
            print(f"{version}: {passed}/{total} passed (tiers {', '.join(map(str, args.tier))}; {kms_note})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
