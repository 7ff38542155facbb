"""plan_tls: a self-signed CA and serving certificate, renewed before they expire, the old CA kept trusted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509

from switchboard_operator.certificates import (
    CA_CERT,
    CA_KEY,
    PREVIOUS_CA,
    TLS_CERT,
    TLS_KEY,
    RotationPolicy,
    ca_bundle,
    new_authority,
    plan_tls,
    service_hosts,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)
HOSTS = service_hosts("switchboard.switchboard-system.svc")
POLICY = RotationPolicy(ca_validity=timedelta(days=30), cert_validity=timedelta(days=3))


def cert(data: dict[str, bytes] | object, key: str) -> x509.Certificate:
    assert isinstance(data, dict)
    return x509.load_pem_x509_certificate(data[key])


def test_an_empty_secret_gets_a_ca_and_a_serving_certificate_it_signed() -> None:
    data = plan_tls({}, hosts=HOSTS, now=NOW, policy=POLICY)
    assert isinstance(data, dict) and set(data) == {CA_CERT, CA_KEY, TLS_CERT, TLS_KEY}
    ca, served = cert(data, CA_CERT), cert(data, TLS_CERT)
    served.verify_directly_issued_by(ca)
    names = served.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == [
        "switchboard.switchboard-system.svc",
        "switchboard.switchboard-system",
        "switchboard",
        "switchboard.switchboard-system.svc.cluster.local",
    ]
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca_bundle(data) == data[CA_CERT]


def test_nothing_changes_while_both_are_fresh() -> None:
    data = plan_tls({}, hosts=HOSTS, now=NOW, policy=POLICY)
    assert plan_tls(data, hosts=HOSTS, now=NOW + timedelta(days=1), policy=POLICY) is data


@pytest.mark.parametrize(
    ("later", "ca_renewed"),
    [
        pytest.param(timedelta(days=2, hours=1), False, id="cert-past-two-thirds"),
        pytest.param(timedelta(days=20, hours=1), True, id="ca-past-two-thirds"),
    ],
)
def test_renewal_before_expiry(later: timedelta, ca_renewed: bool) -> None:
    first = plan_tls({}, hosts=HOSTS, now=NOW, policy=POLICY)
    renewed = plan_tls(first, hosts=HOSTS, now=NOW + later, policy=POLICY)
    assert isinstance(renewed, dict) and isinstance(first, dict)
    assert (renewed[CA_CERT] != first[CA_CERT]) == ca_renewed
    assert renewed[TLS_CERT] != first[TLS_CERT]
    cert(renewed, TLS_CERT).verify_directly_issued_by(cert(renewed, CA_CERT))
    if ca_renewed:
        assert renewed[PREVIOUS_CA] == first[CA_CERT]
        assert ca_bundle(renewed) == renewed[CA_CERT] + first[CA_CERT]
    else:
        assert PREVIOUS_CA not in renewed


def test_the_previous_ca_is_dropped_once_it_expired() -> None:
    data = dict(plan_tls({}, hosts=HOSTS, now=NOW, policy=POLICY))
    data[PREVIOUS_CA] = new_authority(now=NOW, validity=timedelta(days=1))[CA_CERT]
    kept = plan_tls(data, hosts=HOSTS, now=NOW + timedelta(hours=12), policy=POLICY)
    assert kept is data and ca_bundle(data) == data[CA_CERT] + data[PREVIOUS_CA]
    later = plan_tls(data, hosts=HOSTS, now=NOW + timedelta(days=1, hours=1), policy=POLICY)
    assert isinstance(later, dict) and PREVIOUS_CA not in later and later[CA_CERT] == data[CA_CERT]


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param({TLS_CERT: b"not a certificate"}, id="garbage-cert"),
        pytest.param({TLS_KEY: None}, id="key-missing"),
        pytest.param({"hosts": ["other.ns.svc"]}, id="other-host-names"),
        pytest.param({"foreign": True}, id="signed-by-another-ca"),
    ],
)
def test_an_unusable_serving_certificate_is_replaced(damage: dict[str, object]) -> None:
    data = dict(plan_tls({}, hosts=HOSTS, now=NOW, policy=POLICY))
    hosts = HOSTS
    if "hosts" in damage:
        hosts = service_hosts("other.ns.svc")
    elif "foreign" in damage:
        other = plan_tls({}, hosts=HOSTS, now=NOW, policy=POLICY)
        assert isinstance(other, dict)
        data[TLS_CERT], data[TLS_KEY] = other[TLS_CERT], other[TLS_KEY]
    elif damage.get(TLS_KEY, "") is None:
        del data[TLS_KEY]
    else:
        data[TLS_CERT] = b"not a certificate"
    fixed = plan_tls(data, hosts=hosts, now=NOW, policy=POLICY)
    assert isinstance(fixed, dict) and fixed[CA_CERT] == data[CA_CERT]
    cert(fixed, TLS_CERT).verify_directly_issued_by(cert(fixed, CA_CERT))


def test_ip_hosts_become_ip_addresses() -> None:
    data = plan_tls({}, hosts=["127.0.0.1"], now=NOW, policy=POLICY)
    names = cert(data, TLS_CERT).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert plan_tls(data, hosts=["127.0.0.1"], now=NOW, policy=POLICY) is data
