"""The snapshot part of DriverConformance (part of creature.testing): the guest sees a snapshot's content again."""

from __future__ import annotations

import time

import pytest

from creature.testing_console import ConsoleSession

PROOF = "/creature-snapshot-proof"


class SnapshotConformance:
    """Write a file in the guest, snapshot, change it, restore: the guest reads the first content (exec or console)."""

    root_login = True  # False: no root shell without a password (exec or console): these tests skip, saying so

    def _guest(self, cli, name: str, command: str) -> str:
        """Run a shell command line in the running guest: through exec where the driver has it, else its console."""
        from creature.api import Creature

        caps = Creature(cli.home).driver(self.driver).capabilities
        if caps.exec:
            deadline = time.monotonic() + self.boot_timeout
            while (r := cli("exec", name, "--", "sh", "-c", command)).code != 0:
                assert time.monotonic() < deadline, f"exec {command!r} in {name} failed for {self.boot_timeout} s: {r.err}"
                time.sleep(0.5)
            return r.out
        with ConsoleSession.attach(cli.home, name, timeout=self.boot_timeout) as console:
            console.login(self.boot_timeout)
            status, out = console.run(command, 120)
        assert status == 0, f"{command!r} failed in {name}: {out}"
        return out

    def _need_shell(self) -> None:
        if not self.root_login:
            pytest.skip(f"{type(self).__name__} sets root_login = False: its guests give the suite no root shell (its comment says why)")

    def _write(self, cli, name: str, text: str) -> None:
        assert self._guest(cli, name, f"echo {text} > {PROOF} && sync && cat {PROOF}").strip().endswith(text)

    def _read(self, cli, name: str) -> str:
        return self._guest(cli, name, f"cat {PROOF}").strip().splitlines()[-1]

    def _snaps(self, cli, name: str) -> dict:
        return {s["name"]: s for s in cli.ok("snapshot", "list", name, "--format", "json").json()}

    def test_snapshot_restore_guest_sees_first_content(self, creature_cli, template):
        """Stopped snapshot, then (where the driver can) a running one: each restore brings the first content back."""
        from creature.api import Creature

        cli, name = creature_cli, "conf-snap"
        caps = Creature(cli.home).driver(self.driver).capabilities
        if not caps.snapshot:
            pytest.skip(f"driver {self.driver} declares no snapshots (capability snapshot)")
        self._need_shell()
        cli.ok("create", name, "--driver", self.driver, "--template", template, "--memory", "128M")
        cli.ok("start", name)
        self._write(cli, name, "first")
        cli.ok("stop", name, "--timeout", str(self.stop_timeout))
        started = time.time()
        cli.ok("snapshot", "create", name, "s1", "--description", "before the change")
        snap = self._snaps(cli, name)["s1"]
        assert (snap["memory"], snap["running"], snap["description"]) == (False, False, "before the change")
        assert snap["size"] >= 0 and started - 1 <= snap["created"] <= time.time() + 1
        cli.ok("start", name)
        self._write(cli, name, "second")
        cli.ok("stop", name, "--timeout", str(self.stop_timeout))
        cli.ok("snapshot", "restore", name, "s1")
        assert cli.ok("show", name, "--format", "json").json()["state"] == "stopped"
        cli.ok("start", name)
        assert self._read(cli, name) == "first"
        self._running_snapshot(cli, name, caps)
        cli.ok("stop", name, "--timeout", str(self.stop_timeout))
        cli.ok("snapshot", "rm", name, "s1")
        assert "s1" not in self._snaps(cli, name)
        assert cli.ok("doctor", "--format", "json").json() == [], "snapshot work left something behind"
        cli.ok("snapshot", "create", name, "kept")  # destroy takes the snapshots along (libvirt: their metadata)
        cli.ok("destroy", name)
        assert not (cli.home / "machines" / name).exists()
        cli.ok("create", name, "--driver", self.driver, "--template", template, "--memory", "128M")
        assert self._snaps(cli, name) == {}, "a machine of the same name inherited snapshots"
        cli.ok("destroy", name)

    def _running_snapshot(self, cli, name: str, caps) -> None:
        self._write(cli, name, "running-first")
        if not caps.snapshot_running:
            refused = cli("snapshot", "create", name, "live")
            assert refused.code == 2 and "cannot snapshot a running machine" in refused.err, refused.err
            assert "live" not in self._snaps(cli, name)
            return
        cli.ok("snapshot", "create", name, "live")
        snap = self._snaps(cli, name)["live"]
        assert (snap["memory"], snap["running"]) == (caps.snapshot_memory, True)
        self._write(cli, name, "running-second")
        if caps.snapshot_memory:
            cli.ok("snapshot", "restore", name, "live")  # in place: the guest runs on from the saved moment
            assert self._read(cli, name) == "running-first"
            self._write(cli, name, "running-third")
            cli.ok("stop", name, "--timeout", str(self.stop_timeout))
            cli.ok("snapshot", "restore", name, "live")  # from stopped: it runs again, from the saved moment
            assert cli.ok("show", name, "--format", "json").json()["state"] == "running"
        else:
            refused = cli("snapshot", "restore", name, "live")
            assert refused.code == 1 and "stop it before restoring" in refused.err, refused.err
            cli.ok("stop", name, "--timeout", str(self.stop_timeout))
            cli.ok("snapshot", "restore", name, "live")
            cli.ok("start", name)
        assert self._read(cli, name) == "running-first"
        cli.ok("snapshot", "rm", name, "live")

    def test_export_import_guest_keeps_its_files(self, creature_cli, other_creature_cli, template, tmp_path):
        """A machine exported after it ran, imported into another home under a new name, boots with its files."""
        from creature.api import Creature

        cli, other, name = creature_cli, other_creature_cli, "conf-exp"
        if not Creature(cli.home).driver(self.driver).capabilities.export:
            pytest.skip(f"driver {self.driver} declares no export (capability export)")
        self._need_shell()
        cli.ok("create", name, "--driver", self.driver, "--template", template, "--memory", "128M")
        cli.ok("start", name)
        self._write(cli, name, "exported")
        cli.ok("stop", name, "--timeout", str(self.stop_timeout))
        archive = tmp_path / "machine.tar.zst"
        cli.ok("export", name, "-o", str(archive))
        other.ok("import", str(archive), "--name", "conf-imp")
        row = other.ok("show", "conf-imp", "--format", "json").json()
        assert (row["driver"], row["state"], row["template"]) == (self.driver, "stopped", "conf-imp-import")
        other.ok("start", "conf-imp")
        assert self._read(other, "conf-imp") == "exported"
        assert self._guest(other, "conf-imp", "hostname").strip().splitlines()[-1] == "conf-imp"
        other.ok("stop", "conf-imp", "--timeout", str(self.stop_timeout))
        cli.ok("destroy", name)  # a home the test class shares (a slow template's) must not list it in later tests
