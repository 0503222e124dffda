"""cloud-init NoCloud seeds made at create time, read back by real ISO readers (isoinfo, xorriso)."""

import pytest
from creature.procs import run, which
from creature.testing import snapshot

USER_DATA = "#cloud-config\npackages: [htop]\nruncmd:\n  - [touch, /root/seeded]\n"


def test_seed_is_an_iso_labelled_cidata_with_both_files(lxc_home, creature_cli, tmp_path):
    if which("isoinfo") is None or which("xorriso") is None:
        pytest.skip("isoinfo (genisoimage) and xorriso are needed to read the seed back")
    user_data = tmp_path / "user-data.yaml"
    user_data.write_text(USER_DATA)
    creature_cli.ok("create", "ci", "--driver", "lxc", "--template", "bb", "--cloud-init", str(user_data))
    machine = lxc_home.machine("ci")
    seed = machine.dir / "cloud-init-seed.iso"
    assert machine.data["cloud_init_seed"] == str(seed)
    assert oct(seed.stat().st_mode & 0o777) == "0o600"
    info = run(["isoinfo", "-d", "-i", str(seed)]).stdout
    assert "Volume id: cidata" in info
    # read back with Rock Ridge names through isoinfo, and extracted by xorriso
    assert run(["isoinfo", "-R", "-i", str(seed), "-x", "/user-data"]).stdout == USER_DATA
    out = tmp_path / "extracted"
    run(["xorriso", "-osirrox", "on", "-indev", str(seed), "-extract", "/", str(out)])
    assert sorted(p.name for p in out.iterdir()) == ["meta-data", "user-data"]
    assert (out / "user-data").read_text() == USER_DATA
    meta = dict(line.split(": ", 1) for line in (out / "meta-data").read_text().splitlines())
    assert meta["local-hostname"] == "ci"
    assert meta["instance-id"].startswith("ci-") and len(meta["instance-id"]) > 3


def test_each_machine_gets_its_own_instance_id(lxc_home, creature_cli, tmp_path):
    user_data = tmp_path / "u"
    user_data.write_text(USER_DATA)
    ids = []
    for name in ("a1", "a2"):
        creature_cli.ok("create", name, "--driver", "lxc", "--template", "bb", "--cloud-init", str(user_data))
        seed = lxc_home.machine(name).data["cloud_init_seed"]
        ids.append(run(["isoinfo", "-R", "-i", seed, "-x", "/meta-data"]).stdout.splitlines()[0])
    assert ids[0] != ids[1]


@pytest.mark.parametrize("content, message", [(None, "does not exist"), ("  \n", "is empty")])
def test_bad_cloud_init_file_changes_nothing(lxc_home, creature_cli, creature_home, tmp_path, content, message):
    path = tmp_path / "user-data"
    if content is not None:
        path.write_text(content)
    before = snapshot(creature_home)
    r = creature_cli("create", "ci", "--driver", "lxc", "--template", "bb", "--cloud-init", str(path))
    assert r.code == 2 and message in r.err and r.err.strip().count("\n") == 0
    assert snapshot(creature_home) == before
