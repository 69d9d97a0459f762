"""PEM certificate chains and their private keys, read and checked before anything uses them.

The TLS listener and Apple profile signing both take a chain (the own certificate first) and a
key, from two files or one. OpenSSL's own errors (`[SSL] PEM lib (_ssl.c:3926)`,
`KEY_VALUES_MISMATCH`) name neither the file nor the problem, so the files are read here first
and every problem is said with the file it is in: unreadable, no certificate, no key, an
encrypted key, or a key that belongs to another certificate.
"""

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificatePublicKeyTypes,
    PrivateKeyTypes,
)


class CertificateError(Exception):
    """A certificate or key file cannot be used; the message names the file and the problem."""


@dataclass(frozen=True, slots=True)
class Identity:
    """A certificate, its private key, and the rest of its chain (intermediates)."""

    certificate: x509.Certificate
    key: PrivateKeyTypes
    chain: tuple[x509.Certificate, ...] = ()


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CertificateError(f"{path}: cannot read the {what}: {exc.strerror}") from exc


def _certificates(path: Path, role: str) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(_read(path, f"{role} certificate"))
    except ValueError as exc:
        raise CertificateError(
            f"{path}: no PEM certificate found (expected '-----BEGIN CERTIFICATE-----')"
        ) from exc


def _key(path: Path, role: str) -> PrivateKeyTypes:
    data = _read(path, f"{role} key")
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError as exc:
        raise CertificateError(
            f"{path}: the private key is encrypted; give an unencrypted PEM key"
        ) from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise CertificateError(
            f"{path}: no PEM private key found (expected '-----BEGIN PRIVATE KEY-----')"
        ) from exc


def _public_der(key: CertificatePublicKeyTypes) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_identity(
    certificate_path: Path, key_path: Path | None, *, role: str, owner: str
) -> Identity:
    """The chain of `certificate_path` (its own certificate first) and the key of `key_path`,
    or of the certificate file when no key file is given; CertificateError otherwise.

    `role` and `owner` word the messages: ("TLS", "server"), ("profile-signing", "signer").
    """
    certificates = _certificates(certificate_path, role)
    key_file = key_path or certificate_path
    key = _key(key_file, role)
    own, *chain = certificates
    if _public_der(key.public_key()) != _public_der(own.public_key()):  # type: ignore[arg-type]
        raise CertificateError(
            f"{key_file}: this key does not belong to the first certificate of "
            f"{certificate_path} ({own.subject.rfc4514_string()}); "
            f"the {owner}'s certificate must come first"
        )
    return Identity(own, key, tuple(chain))
