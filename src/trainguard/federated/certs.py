"""Certificates for a TLS deployment and SuperNode authentication keys, made with ``cryptography``.

:func:`make_certificates` writes into one folder::

    ca.crt, ca.key              a self-signed certificate authority (P-384, SHA-384)
    server.pem, server.key      the SuperLink's certificate for its hosts, signed by the CA
    node-<i>.key, node-<i>.pub  one OpenSSH-format P-384 key pair per SuperNode

The SuperLink serves TLS with ``server.pem``; SuperNodes and the ``flwr`` CLI
verify it against ``ca.crt``. Each SuperNode signs its requests with its private
key; the SuperLink (``--enable-supernode-auth``) accepts only nodes whose public
key was registered with ``flwr supernode register`` (Flower's CLI-managed
SuperNode authentication). Private keys are written with mode 0600.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from trainguard.core.atomic import atomic_write_bytes
from trainguard.core.errors import DataError, require
from trainguard.core.validation import check_int

DEFAULT_HOSTS = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class NodeKey:
    """A SuperNode's key pair: OpenSSH private key file and OpenSSH public key file."""

    private: Path
    public: Path


@dataclass(frozen=True)
class CertificateSet:
    """Paths of a CA, the SuperLink's certificate and key, and the SuperNodes' key pairs."""

    folder: Path
    ca_cert: Path
    server_cert: Path
    server_key: Path
    nodes: list[NodeKey]

    @classmethod
    def load(cls, folder: str | Path) -> CertificateSet:
        """The set in ``folder`` (written by :func:`make_certificates`); DataError if a file is missing."""
        f = Path(folder)
        names = ["ca.crt", "server.pem", "server.key"]
        missing = [n for n in names if not (f / n).is_file()]
        if missing:
            raise DataError(
                f"{f}: no {missing[0]}; create the folder with `trainguard federated certs`"
            )
        nodes = []
        i = 0
        while (f / f"node-{i}.key").is_file() and (f / f"node-{i}.pub").is_file():
            nodes.append(NodeKey(f / f"node-{i}.key", f / f"node-{i}.pub"))
            i += 1
        return cls(f, f / "ca.crt", f / "server.pem", f / "server.key", nodes)


def _name(common_name: str):  # type: ignore[no-untyped-def]
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "trainguard"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _san(hosts: tuple[str, ...]):  # type: ignore[no-untyped-def]
    from cryptography import x509

    entries: list[x509.GeneralName] = []
    for h in hosts:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            entries.append(x509.DNSName(h))
    return x509.SubjectAlternativeName(entries)


def make_certificates(
    folder: str | Path,
    *,
    nodes: int,
    hosts: tuple[str, ...] = DEFAULT_HOSTS,
    days: int = 365,
) -> CertificateSet:
    """Create a CA, a SuperLink certificate for ``hosts`` and ``nodes`` SuperNode key pairs in ``folder``.

    All keys are ECDSA P-384; certificates are X.509 v3 signed with SHA-384, the
    server's with its hosts as subject alternative names (IP addresses or DNS
    names) and the ``serverAuth`` extended key usage.
    """
    require("cryptography", "federated")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID

    check_int(nodes, "nodes", "make_certificates", low=0)
    check_int(days, "days", "make_certificates", low=1)
    if not hosts:
        raise DataError("make_certificates: give at least one host name or IP address")
    out = Path(folder)
    now = dt.datetime.now(dt.timezone.utc)
    start, end = now - dt.timedelta(minutes=5), now + dt.timedelta(days=days)
    pem = serialization.Encoding.PEM
    no_pw = serialization.NoEncryption()

    ca_key = ec.generate_private_key(ec.SECP384R1())
    ca_name = _name("trainguard federation CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA384())
    )
    server_key = ec.generate_private_key(ec.SECP384R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(_name(hosts[0]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(_san(hosts), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA384())
    )
    atomic_write_bytes(
        out / "ca.key",
        ca_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, no_pw),
        perms=0o600,
    )
    atomic_write_bytes(out / "ca.crt", ca.public_bytes(pem))
    atomic_write_bytes(
        out / "server.key",
        server_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, no_pw),
        perms=0o600,
    )
    atomic_write_bytes(out / "server.pem", server.public_bytes(pem))
    keys = [make_node_key(out / f"node-{i}") for i in range(nodes)]
    return CertificateSet(out, out / "ca.crt", out / "server.pem", out / "server.key", keys)


def make_node_key(stem: str | Path) -> NodeKey:
    """Write a SuperNode key pair ``<stem>.key`` (OpenSSH private, 0600) and ``<stem>.pub`` (ECDSA P-384)."""
    require("cryptography", "federated")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    k = ec.generate_private_key(ec.SECP384R1())
    base = Path(stem)
    key = NodeKey(base.with_name(base.name + ".key"), base.with_name(base.name + ".pub"))
    private = k.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    atomic_write_bytes(key.private, private, perms=0o600)
    public = k.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    atomic_write_bytes(key.public, public + b"\n")
    return key
