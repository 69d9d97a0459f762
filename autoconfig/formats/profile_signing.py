"""Signing Apple configuration profiles, so that devices show them as "Verified".

An unsigned profile installs too, but iOS and macOS then label it "Not Verified" in red, which
teaches users to accept anything. A signed profile is a CMS (PKCS#7) SignedData message in DER
with the profile embedded, signed with SHA-256, carrying S/MIME capabilities and every
certificate of the configured chain, so that a device can build the path to a root it trusts
(a TLS certificate of the server's own name from a public CA is the usual choice).

The key and chain are read and tried once, when the app is created: a broken file stops the
server at start-up with a message, instead of failing requests. They are not re-read on SIGHUP;
a renewed certificate needs a restart.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7

from ..certificates import CertificateError, load_identity

log = logging.getLogger("autoconfig.signing")

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

_OPTIONS = (pkcs7.PKCS7Options.Binary,)
"""Binary: sign the bytes as they are. Without it the profile's line ends would be rewritten to
CRLF (S/MIME canonical text), and the signed profile would differ from the unsigned one."""


class SigningSetupError(Exception):
    """The profile-signing files cannot be used; the message names the file and the problem."""


@dataclass(frozen=True, slots=True)
class ProfileSigner:
    """A loaded signing identity: the signer's certificate and key, and the rest of its chain."""

    certificate: x509.Certificate
    key: SigningKey
    chain: tuple[x509.Certificate, ...] = ()

    def sign(self, content: bytes) -> bytes:
        """The CMS SignedData (DER) that embeds `content`."""
        builder = (
            pkcs7.PKCS7SignatureBuilder()
            .set_data(content)
            .add_signer(self.certificate, self.key, hashes.SHA256())
        )
        for certificate in self.chain:
            builder = builder.add_certificate(certificate)
        return builder.sign(serialization.Encoding.DER, _OPTIONS)


def _warn_if_outside_validity(certificate: x509.Certificate, path: Path) -> None:
    """An expired signer still signs, but devices then show "Not Verified": say so at start."""
    now = datetime.now(UTC)
    if now > certificate.not_valid_after_utc:
        log.warning("%s: the profile-signing certificate expired on %s", path, _day(certificate))
    elif now < certificate.not_valid_before_utc:
        log.warning("%s: the profile-signing certificate is not valid yet", path)


def _day(certificate: x509.Certificate) -> str:
    return certificate.not_valid_after_utc.strftime("%Y-%m-%d")


def load_signer(certificate_path: Path, key_path: Path | None = None) -> ProfileSigner:
    """Read a PEM chain (signer first) and its PEM key, and prove they can sign.

    Without `key_path` the key is looked for in the certificate file, for admins who keep both
    in one PEM file. Raises SigningSetupError with a message an admin can act on.
    """
    try:
        identity = load_identity(certificate_path, key_path, role="profile-signing", owner="signer")
    except CertificateError as exc:
        raise SigningSetupError(str(exc)) from exc
    key = identity.key
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise SigningSetupError(
            f"{key_path or certificate_path}: a {type(key).__name__} cannot sign profiles; "
            "use an RSA or EC key"
        )
    signer_certificate = identity.certificate
    signer = ProfileSigner(signer_certificate, key, identity.chain)
    try:
        signer.sign(b"<plist version='1.0'><dict/></plist>")
    except (ValueError, TypeError) as exc:
        raise SigningSetupError(f"{certificate_path}: cannot sign with this key: {exc}") from exc
    _warn_if_outside_validity(signer_certificate, certificate_path)
    return signer
