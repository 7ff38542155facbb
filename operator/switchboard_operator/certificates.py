"""The webhook's self-signed CA and serving certificate (pure: `now` is a parameter), and when to renew them.

`plan_tls(current, hosts=..., now=..., policy=...)` returns what the Secret should hold:
- no usable CA, or less than a third of its lifetime left: a new CA; the old one stays trusted as
  `ca-previous.crt` until it expires, so replicas still serving a certificate it signed keep working
  while the new one spreads;
- no serving certificate, one for other host names, one not signed by the current CA, or less than a
  third of its lifetime left: a new one, signed by the current CA;
- otherwise the Secret's data unchanged (the same object, so callers can tell nothing changed).
`ca_bundle(data)` is what the MutatingWebhookConfiguration's caBundle must hold: the current CA and the
previous one while it is valid. Keys are EC P-256; values are PEM bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from ipaddress import ip_address

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_CERT, CA_KEY, PREVIOUS_CA = "ca.crt", "ca.key", "ca-previous.crt"
TLS_CERT, TLS_KEY = "tls.crt", "tls.key"
BACKDATE = timedelta(hours=1)  # tolerate clocks a little behind ours
RENEW_FRACTION = 1 / 3


@dataclass(frozen=True)
class RotationPolicy:
    """Lifetimes of what the operator makes."""

    ca_validity: timedelta = timedelta(days=3650)
    cert_validity: timedelta = timedelta(days=365)


_CA_USAGE = x509.KeyUsage(
    digital_signature=True,
    key_cert_sign=True,
    crl_sign=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    encipher_only=False,
    decipher_only=False,
)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def new_authority(*, now: datetime, validity: timedelta) -> dict[str, bytes]:
    """A CA certificate and key: {ca.crt, ca.key}."""
    key = _new_key()
    name = _name("switchboard-webhook-ca")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + validity)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_CA_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return {CA_CERT: cert.public_bytes(serialization.Encoding.PEM), CA_KEY: _pem_key(key)}


def issue_serving(
    authority: Mapping[str, bytes], *, hosts: Sequence[str], now: datetime, validity: timedelta
) -> dict[str, bytes]:
    """tls.crt and tls.key: a serving certificate for `hosts` (DNS names or IPs) signed by `authority`."""
    ca_cert = x509.load_pem_x509_certificate(authority[CA_CERT])
    ca_key = serialization.load_pem_private_key(authority[CA_KEY], password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = _new_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(hosts[0]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(min(now + validity, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([_general_name(h) for h in hosts]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return {TLS_CERT: cert.public_bytes(serialization.Encoding.PEM), TLS_KEY: _pem_key(key)}


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _load(pem: bytes | None) -> x509.Certificate | None:
    if not pem:
        return None
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError:
        return None


def _is_fresh(cert: x509.Certificate, now: datetime) -> bool:
    """Valid now, with more than a third of its lifetime left."""
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    return start <= now < end - (end - start) * RENEW_FRACTION


def _is_signed_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _names(cert: x509.Certificate) -> list[str]:
    try:
        extension = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    names = extension.value.get_values_for_type(x509.DNSName)
    return [*names, *(str(ip) for ip in extension.value.get_values_for_type(x509.IPAddress))]


def plan_tls(
    current: Mapping[str, bytes], *, hosts: Sequence[str], now: datetime, policy: RotationPolicy
) -> Mapping[str, bytes]:
    """What the Secret should hold now (see the module docstring); `current` itself when nothing is due."""
    data = dict(current)
    ca = _load(data.get(CA_CERT))
    if ca is None or CA_KEY not in data or not _is_fresh(ca, now):
        data.pop(PREVIOUS_CA, None)
        if ca is not None and now < ca.not_valid_after_utc:
            data[PREVIOUS_CA] = data[CA_CERT]
        data.update(new_authority(now=now, validity=policy.ca_validity))
        ca = _load(data[CA_CERT])
        assert ca is not None
    previous = _load(data.get(PREVIOUS_CA))
    if previous is not None and previous.not_valid_after_utc <= now:
        del data[PREVIOUS_CA]
    served = _load(data.get(TLS_CERT))
    if (
        served is None
        or TLS_KEY not in data
        or sorted(_names(served)) != sorted(hosts)
        or not _is_signed_by(served, ca)
        or not _is_fresh(served, now)
    ):
        data.update(issue_serving(data, hosts=hosts, now=now, validity=policy.cert_validity))
    return current if data == dict(current) else data


def ca_bundle(data: Mapping[str, bytes]) -> bytes:
    """The CAs the API server must trust: the current one, then the previous one if it is still kept."""
    return data[CA_CERT] + data.get(PREVIOUS_CA, b"")


def service_hosts(host: str) -> list[str]:
    """The DNS names a webhook Service is called by: `svc.ns.svc` also as `svc.ns`, `svc` and
    `svc.ns.svc.cluster.local`; any other host name as it is."""
    parts = host.split(".")
    if len(parts) == 3 and parts[2] == "svc":
        return [host, f"{parts[0]}.{parts[1]}", parts[0], f"{host}.cluster.local"]
    return [host]
