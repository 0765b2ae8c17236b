"""Configs refuse impossible combinations with the field named; the CLI makes certificates and exits 2 on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trainguard.cli.app import main
from trainguard.core.errors import ConfigError
from trainguard.federated.certs import CertificateSet
from trainguard.federated.config import load_config, parse_config


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"strategy": {"name": "bulyan"}, "attack": {"kind": "sign-flip", "fraction": 0.2}},
         "strategy 'bulyan' needs num_clients >= 4\\*num_malicious \\+ 3 = 7; got 5"),
        ({"strategy": {"name": "krum"}, "attack": {"kind": "scale", "fraction": 0.4}},
         "needs num_clients >= 2\\*num_malicious \\+ 3 = 7"),
        ({"secagg": {"enabled": True}, "strategy": {"name": "median"}}, "secagg hides individual updates"),
        ({"secagg": {"enabled": True}, "partition": {"num_clients": 2}}, "secagg needs at least 3 clients"),
        ({"attack": {"kind": "backdoor", "fraction": 0.05}}, "selects no attacker"),
        ({"strategy": {"name": "fedsgd"}}, "strategy.name"),
        ({"dp": {"noise_multiplier": -1}}, "dp.noise_multiplier"),
        ({"partition": {"scheme": "column"}}, "partition.scheme 'column' needs partition.column"),
        ({"rounds": 3}, "rounds: Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_bad_configs_name_the_field(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(raw, "fed.yaml")


def test_load_config_resolves_paths_next_to_the_file(tmp_path: Path) -> None:
    f = tmp_path / "fed.yaml"
    f.write_text("data:\n  source: adult:data/adult\nengine:\n  certs: certs\n", encoding="utf-8")
    cfg = load_config(f)
    assert cfg.data.source == f"adult:{tmp_path / 'data/adult'}"
    assert cfg.engine.certs == str(tmp_path / "certs")
    (tmp_path / "bad.yaml").write_text("data: [1,\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="malformed YAML at line"):
        load_config(tmp_path / "bad.yaml")


def test_certs_command_writes_a_ca_server_cert_and_node_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import (
        load_ssh_private_key,
        load_ssh_public_key,
    )

    folder = tmp_path / "certs"
    assert (
        main(
            [
                "--json",
                "federated",
                "certs",
                str(folder),
                "--nodes",
                "2",
                "--host",
                "127.0.0.1",
                "--host",
                "fl.example",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert len(out["nodes"]) == 2
    certs = CertificateSet.load(folder)
    ca = x509.load_pem_x509_certificate(certs.ca_cert.read_bytes())
    server = x509.load_pem_x509_certificate(certs.server_cert.read_bytes())
    server.verify_directly_issued_by(ca)
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert san.get_values_for_type(x509.DNSName) == ["fl.example"]
    key = load_ssh_private_key(certs.nodes[0].private.read_bytes(), None)
    assert key.public_key() == load_ssh_public_key(certs.nodes[0].public.read_bytes())
    assert oct(certs.nodes[0].private.stat().st_mode & 0o777) == "0o600"
    # a second run would replace the keys registered with a SuperLink: refused without --force
    assert main(["federated", "certs", str(folder)]) == 2
    assert "already holds certificates" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["federated", "run", "missing.yaml"], "no such federated config file"),
        (["federated", "run", "CFG", "--engine", "cloud"], "Invalid value"),
    ],
)
def test_bad_run_input_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    cfg = tmp_path / "fed.yaml"
    cfg.write_text("strategy: {name: bulyan}\n", encoding="utf-8")
    code = main([a.replace("CFG", str(cfg)) for a in args] + ["--runs", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 2 and expected in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()
