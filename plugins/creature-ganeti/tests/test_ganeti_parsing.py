"""What the ganeti driver reads and checks without a cluster: URLs, certificates, job records, the instance policy.

The job records and cluster info in data/ganeti-3.0.2-records.json are what the lab's real Ganeti 3.0.2
answered (GET /2/jobs/ID, GET /2/info); the lab (tests/labs/ganeti) runs the driver against the live cluster.
"""

from __future__ import annotations

import json
import ssl
import subprocess
from pathlib import Path

import pytest
from creature.sdk import InputError
from creature_ganeti.os_definition import write
from creature_ganeti.rapi import JobFailed, JobRefused, Rapi, job_error, job_seconds, parse_url, tls_context
from creature_ganeti.request import Options, parse_size, policy_violations
from creature_ganeti.settings import certificate_only

RECORDS = json.loads((Path(__file__).parent / "data" / "ganeti-3.0.2-records.json").read_text())


@pytest.fixture(scope="module")
def rapi_pem(tmp_path_factory) -> bytes:
    """A file like Ganeti's rapi.pem: a private key and a self-signed certificate for CN=ganeti.example.com, no SAN."""
    folder = tmp_path_factory.mktemp("pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", "/CN=ganeti.example.com", "-days", "2", "-keyout", str(folder / "key"),
                    "-out", str(folder / "cert")], check=True, capture_output=True)
    return (folder / "key").read_bytes() + (folder / "cert").read_bytes()


@pytest.mark.parametrize("url, found", [("https://cluster.example:5080", ("cluster.example", 5080)),
                                        ("https://cluster.example", ("cluster.example", 5080)),
                                        ("https://127.0.0.1:15080/", ("127.0.0.1", 15080)),
                                        ("https://[2001:db8::1]:5080", ("2001:db8::1", 5080))])
def test_rapi_urls(url, found):
    assert parse_url(url) == found


@pytest.mark.parametrize("url, message", [("http://c:5080", "use https://HOST[:PORT]"),
                                          ("https://admin:pw@c:5080", "never in the URL"),
                                          ("https://admin@c:5080", "never in the URL"),
                                          ("https://c:5080/2/info", "without a path"),
                                          ("https://c:port", "bad port"),
                                          ("https://:5080", "no host")])
def test_bad_rapi_urls_are_input_errors(url, message):
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_url(url)


def test_password_never_in_the_clients_repr():
    rapi = Rapi("https://c:5080", "creature", "s3cret-pw")
    assert "s3cret-pw" not in repr(rapi) and "creature" in repr(rapi)


def test_the_clusters_certificate_is_the_only_anchor_and_names_are_unchecked(rapi_pem):
    context = tls_context(certificate_only(rapi_pem))
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname is False
    assert len(context.get_ca_certs()) == 1  # that certificate, not the system's CAs
    system = tls_context(None)
    assert system.check_hostname is True and system.verify_mode == ssl.CERT_REQUIRED


def test_only_the_certificate_of_rapi_pem_is_kept(rapi_pem):
    kept = certificate_only(rapi_pem)
    assert kept.startswith(b"-----BEGIN CERTIFICATE-----") and b"PRIVATE" not in kept
    assert kept.strip() == rapi_pem[rapi_pem.index(b"-----BEGIN CERTIFICATE-----"):].strip()
    with pytest.raises(InputError, match="no PEM certificate"):
        certificate_only(b"-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n")


def test_a_refused_job_is_one_input_error_line_naming_job_and_opcode():
    error = job_error(13, RECORDS["create-exists"])
    assert isinstance(error, JobRefused)
    assert str(error) == "ganeti job 13 (OP_INSTANCE_CREATE) failed: Instance 'a1' is already in the cluster [already_exists]"


def test_a_job_that_failed_while_running_is_an_operation_error():
    record = {"status": "error", "ops": [{"OP_ID": "OP_INSTANCE_STARTUP"}], "opstatus": ["error"],
              "opresult": [["OpExecError", ["Could not start instance 'x': Hypervisor error:\nqemu: could not load kernel"]]]}
    error = job_error(42, record)
    assert type(error) is JobFailed and "\n" not in str(error)
    assert str(error) == ("ganeti job 42 (OP_INSTANCE_STARTUP) failed: Could not start instance 'x': Hypervisor error: "
                          "qemu: could not load kernel")
    assert "was canceled" in str(job_error(43, record | {"status": "canceled"}))


def test_job_duration_from_ganetis_timestamps():
    record = RECORDS["shutdown"]
    seconds = job_seconds(record)
    assert 0 < seconds < 5
    assert job_seconds({"start_ts": [100, 500000], "end_ts": [106, 0]}) == 5.5
    assert job_seconds({}) == 0.0


def test_instance_policy_of_the_real_cluster():
    ipolicy = RECORDS["info"]["ipolicy"]
    fits = {"disk-size": 1024, "memory-size": 128, "cpu-count": 1, "disk-count": 1, "nic-count": 1}
    assert policy_violations(ipolicy, fits) == []
    assert policy_violations(ipolicy, fits | {"disk-size": 512}) == [
        "disk size 512 MiB is below the cluster's instance policy minimum of 1024 MiB"]
    assert policy_violations(ipolicy, fits | {"cpu-count": 9, "nic-count": 0}) == [
        "vCPUs 9 is above the cluster's instance policy maximum of 8", "NICs 0 is below the cluster's instance policy minimum of 1"]
    assert policy_violations({}, fits | {"disk-size": 1}) == []


def test_create_options():
    assert Options.model_validate({"disk_size": "2G", "disk_template": "file", "hypervisor": "fake"}).model_dump() == {
        "disk_size": 2048, "disk_template": "file", "hypervisor": "fake"}
    assert parse_size("1T") == 1024 * 1024 and parse_size("512") == 512 and parse_size("512MiB") == 512
    for bad in ({"disk_size": "big"}, {"hypervisor": "lxc"}, {"colour": "blue"}):
        with pytest.raises(ValueError):
            Options.model_validate(bad)


def test_os_definition_files(tmp_path):
    written = {p.name: p for p in write(tmp_path / "creature")}
    assert set(written) == {"create", "import", "export", "rename", "verify", "ganeti_api_version", "variants.list",
                            "parameters.list"}
    assert written["ganeti_api_version"].read_text() == "20\n"
    assert written["parameters.list"].read_text().startswith("image ")
    for script in ("create", "import", "export", "rename", "verify"):
        assert written[script].stat().st_mode & 0o777 == 0o755
        assert written[script].read_text().startswith("#!/bin/sh\n")
