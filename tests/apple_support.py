"""Helpers for the Apple profile tests: a validator for Apple's schema, and a throw-away PKI.

The validator reads Apple's device-management YAML (TopLevel, CommonPayloadKeys,
com.apple.mail.managed) from ../shared/data/schemas/apple. Every test that parses a profile goes
through `load_profile`, so every profile the suite produces is checked against it whenever that
folder is there. Apple's YAML for the CalDAV and CardDAV payloads is not in ../shared, so their
own keys are checked against DAV_KEYS below, written from Apple's documentation of those payloads
(apple/device-management mdm/profiles/com.apple.{caldav,carddav}.account.yaml).
"""

import datetime
import plistlib
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .conftest import SHARED

SCHEMA_DIR = SHARED / "data" / "schemas" / "apple"
UUID = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$")

DAV_KEYS = {
    prefix: {
        f"{prefix}AccountDescription": ("<string>", False),
        f"{prefix}HostName": ("<string>", True),
        f"{prefix}Username": ("<string>", False),
        f"{prefix}Password": ("<string>", False),
        f"{prefix}PrincipalURL": ("<string>", False),
        f"{prefix}UseSSL": ("<boolean>", False),
        f"{prefix}Port": ("<integer>", False),
    }
    for prefix in ("CalDAV", "CardDAV")
}
"""key -> (type, required) of the CalDAV / CardDAV payloads' own keys."""

_TYPES = {
    "<string>": lambda v: isinstance(v, str),
    "<integer>": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "<boolean>": lambda v: isinstance(v, bool),
    "<array>": lambda v: isinstance(v, list),
    "<dictionary>": lambda v: isinstance(v, dict),
    "<data>": lambda v: isinstance(v, bytes),
    "<date>": lambda v: isinstance(v, datetime.datetime),
    "<real>": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "<any>": lambda v: True,
}


def schema_available() -> bool:
    return (SCHEMA_DIR / "com.apple.mail.managed.yaml").is_file()


@cache
def _keys(name: str) -> dict[str, dict]:
    document = yaml.safe_load((SCHEMA_DIR / name).read_text(encoding="utf-8"))
    return {entry["key"]: entry for entry in document["payloadkeys"]}


def _check(where: str, values: dict, specs: dict[str, dict]) -> list[str]:
    problems = [
        f"{where}: required key {key} is missing"
        for key, spec in specs.items()
        if spec.get("presence") == "required" and key not in values
    ]
    for key, value in values.items():
        spec = specs.get(key)
        if spec is None:
            problems.append(f"{where}: {key} is not in Apple's schema")
            continue
        if not _TYPES[spec["type"]](value):
            problems.append(f"{where}: {key} is {value!r}, not of type {spec['type']}")
        if "rangelist" in spec and value not in spec["rangelist"]:
            problems.append(f"{where}: {key} is {value!r}, not one of {spec['rangelist']}")
        if "format" in spec and not re.search(spec["format"], value):
            problems.append(f"{where}: {key} {value!r} does not match {spec['format']}")
    return problems


def _dav_specs(prefix: str) -> dict[str, dict]:
    own = {
        key: {"type": kind, "presence": "required" if required else "optional"}
        for key, (kind, required) in DAV_KEYS[prefix].items()
    }
    return _keys("CommonPayloadKeys.yaml") | own


def schema_problems(profile: object) -> list[str]:
    """Everything in a parsed profile that Apple's schema does not allow; empty when valid."""
    if not isinstance(profile, dict):
        return [f"the profile is a {type(profile).__name__}, not a dictionary"]
    problems = _check("TopLevel", profile, _keys("TopLevel.yaml"))
    payloads = profile.get("PayloadContent")
    payloads = payloads if isinstance(payloads, list) else []
    identifiers = [profile.get("PayloadIdentifier")]
    uuids = [profile.get("PayloadUUID")]
    for index, payload in enumerate(payloads):
        where = f"PayloadContent[{index}]"
        if not isinstance(payload, dict):
            problems.append(f"{where} is not a dictionary")
            continue
        kind = payload.get("PayloadType")
        if kind == "com.apple.mail.managed":
            specs = _keys("CommonPayloadKeys.yaml") | _keys("com.apple.mail.managed.yaml")
        elif kind == "com.apple.caldav.account":
            specs = _dav_specs("CalDAV")
        elif kind == "com.apple.carddav.account":
            specs = _dav_specs("CardDAV")
        else:
            problems.append(f"{where}: no schema for PayloadType {kind!r}")
            continue
        problems += _check(f"{where}({kind})", payload, specs)
        identifiers.append(payload.get("PayloadIdentifier"))
        uuids.append(payload.get("PayloadUUID"))
    problems += [f"PayloadUUID {u!r} is not an upper-case UUID" for u in uuids if not _uuid(u)]
    if len(set(identifiers)) != len(identifiers):
        problems.append(f"PayloadIdentifier values repeat: {identifiers}")
    if len(set(uuids)) != len(uuids):
        problems.append(f"PayloadUUID values repeat: {uuids}")
    return problems


def _uuid(value: object) -> bool:
    return isinstance(value, str) and UUID.match(value) is not None


def load_profile(raw: bytes) -> dict:
    """Parse an unsigned profile as a device would, and hold it to Apple's schema when present."""
    assert raw.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist')
    profile = plistlib.loads(raw)
    if schema_available():
        assert schema_problems(profile) == []
    return profile


# --- a throw-away PKI: root CA -> intermediate CA -> profile-signing leaf ---------------------


@dataclass(frozen=True)
class SigningFiles:
    root: Path
    """The root CA certificate, the only one a verifier is told to trust."""
    chain: Path
    """Leaf then intermediate, as an admin gives it to --profile-cert."""
    key: Path
    leaf: x509.Certificate
    intermediate: x509.Certificate


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject, issuer, public_key, signing_key, *, ca: bool, days: int = 30):
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=10))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    return builder.sign(signing_key, hashes.SHA256())


def _pem(*certificates: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)


def key_pem(key, password: bytes | None = None) -> bytes:
    encryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def make_signing_files(directory: Path, leaf_key=None, *, days: int = 30) -> SigningFiles:
    """A root and an intermediate CA, and a leaf like an admin's TLS certificate (serverAuth)."""
    directory.mkdir(parents=True, exist_ok=True)
    root_key = ec.generate_private_key(ec.SECP256R1())
    intermediate_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = leaf_key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root = _certificate("Test Root CA", "Test Root CA", root_key.public_key(), root_key, ca=True)
    intermediate = _certificate(
        "Test Intermediate CA", "Test Root CA", intermediate_key.public_key(), root_key, ca=True
    )
    leaf = _certificate(
        "autoconfig.example.com",
        "Test Intermediate CA",
        leaf_key.public_key(),
        intermediate_key,
        ca=False,
        days=days,
    )
    files = SigningFiles(
        root=directory / "root.pem",
        chain=directory / "chain.pem",
        key=directory / "key.pem",
        leaf=leaf,
        intermediate=intermediate,
    )
    files.root.write_bytes(_pem(root))
    files.chain.write_bytes(_pem(leaf, intermediate))
    files.key.write_bytes(key_pem(leaf_key))
    return files


def openssl_verify(signed: bytes, root: Path, directory: Path) -> bytes:
    """Verify a signed profile the way a device does (signature and chain to a trusted root)
    with `openssl cms -verify`, and return the profile it carries.

    Only the root is trusted, so the intermediate must come from inside the message.
    `-purpose any`: Apple accepts TLS server certificates for signing profiles, while openssl's
    default purpose would want an S/MIME one.
    """
    openssl = shutil.which("openssl")
    assert openssl is not None
    path = directory / "signed.mobileconfig"
    path.write_bytes(signed)
    command = ["cms", "-verify", "-inform", "DER", "-in", str(path), "-CAfile", str(root)]
    result = subprocess.run(
        [openssl, *command, "-purpose", "any"],
        capture_output=True,
        check=False,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert b"Verification successful" in result.stderr
    return result.stdout
