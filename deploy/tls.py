"""The site's own certificate authority and the server certificates it signs
(the broker's, the HTTPS proxy's), with `cryptography`.

A shared workshop's LAN has no public DNS, so no public CA will sign for it:
the site makes its own CA once, its certificate goes to every node (pinned,
docs/security.md) and onto the phones and laptops that open the web page. The
CA lives for decades because replacing it means re-flashing every node's
config; the server certificates live 800 days (Apple's devices refuse a
certificate from a user-installed CA valid longer than 825) and are issued
again by the bootstrap when fewer than 60 days remain or their names changed.

Keys are ECDSA P-256: small certificates (the node parses the CA's in a few
KB of RAM) and a handshake the ESP32's mbedTLS does in software."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 20 * 365
SERVER_DAYS = 800
RENEW_DAYS = 60
# Backdated: a node or laptop whose clock runs a little behind still accepts it.
BACKDATE = timedelta(hours=1)

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class KeyPair:
    """A certificate and its private key, both PEM."""

    cert_pem: str
    key_pem: str

    @property
    def cert(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem.encode())

    @property
    def key(self) -> ec.EllipticCurvePrivateKey:
        key = serialization.load_pem_private_key(self.key_pem.encode(), None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("not an EC private key")
        return key


def _pem(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> KeyPair:
    return KeyPair(
        cert.public_bytes(serialization.Encoding.PEM).decode(),
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption()).decode(),
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "workshop-monitor"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def new_ca(site: str, now: datetime | None = None) -> KeyPair:
    """A CA that may sign server certificates only (path length 0)."""
    now = now or datetime.now(UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(f"{site} site CA")
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE).not_valid_after(now + timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=False, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return _pem(cert, key)


def alt_names(names: Iterable[str]) -> list[x509.GeneralName]:
    """Host names and IP addresses as subjectAltName entries, in order, once each."""
    out: list[x509.GeneralName] = []
    for name in names:
        entry: x509.GeneralName
        try:
            entry = x509.IPAddress(ipaddress.ip_address(name))
        except ValueError:
            entry = x509.DNSName(name.lower())
        if entry not in out:
            out.append(entry)
    return out


def issue(ca: KeyPair, names: Sequence[str], now: datetime | None = None) -> KeyPair:
    """A TLS server certificate for `names` (host names and IP addresses; the
    first is its common name), signed by `ca`."""
    if not names:
        raise ValueError("a server certificate needs at least one name")
    now = now or datetime.now(UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    ca_cert, ca_key = ca.cert, ca.key
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0])).issuer_name(ca_cert.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE).not_valid_after(now + timedelta(days=SERVER_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(alt_names(names)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return _pem(cert, key)


def _same_key(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> bool:
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return cert.public_key().public_bytes(*spki) == key.public_key().public_bytes(*spki)


def _fresh(cert: x509.Certificate, now: datetime) -> bool:
    return cert.not_valid_before_utc <= now and (
        cert.not_valid_after_utc - now > timedelta(days=RENEW_DAYS))


def ca_usable(ca: KeyPair, now: datetime | None = None) -> bool:
    """The key is the certificate's, and it has years left (False: parse errors too)."""
    now = now or datetime.now(UTC)
    try:
        cert, key = ca.cert, ca.key
    except ValueError:
        return False
    return _same_key(cert, key) and _fresh(cert, now)


def server_usable(ca: KeyPair, server: KeyPair, names: Sequence[str],
                  now: datetime | None = None) -> bool:
    """`server` is signed by `ca`, names exactly `names`, its key is its own and
    it is not due for renewal; anything else (or unreadable) is issued again."""
    now = now or datetime.now(UTC)
    try:
        cert, key = server.cert, server.key
        cert.verify_directly_issued_by(ca.cert)
        held = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return False
    return _same_key(cert, key) and list(held) == alt_names(names) and _fresh(cert, now)
