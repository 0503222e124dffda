"""DriverConformance's tests of what reaches a guest (part of creature.testing): exec's status and input, SSH keys and
the root password, or their refusal (exit 2, nothing made) by a driver whose guests cannot take them."""

from __future__ import annotations

import pytest

TEST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIConformanceTestKeyConformanceTestKey00 conformance@creature"
TEST_PASSWORD = "conformance password"


class GuestConformance:
    """Mixed into DriverConformance: the driver's exec behaves like lxc-attach, and create's access options take effect."""

    driver: str = ""
    snapshot = None  # creature.testing.snapshot (DriverConformance sets it: this module does not import creature.testing)

    @staticmethod
    def _destroy(cli, name: str) -> None:
        """Leave a home shared by a class (a Debian template's) as the test found it."""
        cli("destroy", "--force", name)

    def _ready(self, cli, name: str) -> None:
        """Start name and wait until exec answers in it (a VM's agent comes up with its boot)."""
        cli.ok("start", name)
        self._exec_ready(lambda: (lambda r: r.out if r.code == 0 else None)(cli("exec", name, "--", *self.exec_argv)))

    def test_exec_passes_status_output_and_input(self, creature_api, creature_cli, template):
        """`exec NAME -- sh -c 'echo hi; exit 3'` prints hi and exits 3; what stdin holds is the command's input."""
        if not self._caps(creature_api).exec:
            pytest.skip(f"driver {self.driver} declares no exec")
        cli = creature_cli
        cli.ok("create", "conf-exec", "--driver", self.driver, "--template", template, "--memory", "128M")
        try:
            self._ready(cli, "conf-exec")
            result = cli("exec", "conf-exec", "--", "sh", "-c", "echo hi; echo oops >&2; exit 3")
            assert (result.code, result.out, result.err) == (3, "hi\n", "oops\n"), result
            text = "first line\nsecond line, with 'quotes' and ünïcödé\n"
            assert cli.ok("exec", "conf-exec", "--", "cat", input=text).out == text
            assert cli.ok("exec", "conf-exec", "--", "printf", "%s|", "two words", "*", "$HOME").out == "two words|*|$HOME|"
            missing = cli("exec", "conf-exec", "--", "no-such-command-here")
            assert missing.code == 127 and "no-such-command-here" in missing.err, missing
            if not self._caps(creature_api).vm:
                # a container's command runs under its limits: in its init's cgroups or below them (lxc-attach: .lxc)
                lines = cli.ok("exec", "conf-exec", "--", "cat", "/proc/self/cgroup", "/proc/1/cgroup").out.splitlines()
                own, init = (dict(line.rsplit(":", 1) for line in half) for half in (lines[:len(lines) // 2], lines[len(lines) // 2:]))
                assert own.keys() == init.keys() and all(own[h] == init[h] or own[h].startswith(init[h].rstrip("/") + "/")
                                                         for h in init), (own, init)
        finally:
            self._destroy(cli, "conf-exec")

    def _key_file(self, tmp_path):
        key = tmp_path / "conformance.pub"
        key.write_text(TEST_KEY + "\n")
        return key

    def test_access_options_refused_where_guests_cannot_take_them(self, creature_api, creature_cli, tmp_path):
        """A driver without guest_access refuses --ssh-key and --root-password (also in a dry run): exit 2, nothing made."""
        if self._caps(creature_api).guest_access:
            pytest.skip(f"driver {self.driver} puts keys and passwords into its guests")
        cli = creature_cli
        if creature_api.inventory.template("conf-bb") is None:
            cli.ok("template", "build", "conf-bb", "--method", "busybox")
        before = self.snapshot(cli.home)
        for extra in ([], ["--dry-run"]):
            refused = cli("create", "conf-acc", "--driver", self.driver, "--template", "conf-bb",
                          "--ssh-key", str(self._key_file(tmp_path)), "--root-password", TEST_PASSWORD, *extra)
            assert refused.code == 2, refused.err
            assert refused.err == f"creature: error: driver {self.driver!r} cannot put --ssh-key or --root-password into its guests\n"
        assert self.snapshot(cli.home) == before

    def test_access_options_reach_the_guest(self, creature_api, creature_cli, template, tmp_path):
        """--ssh-key and --root-password are in the guest's files (seen through exec), the password nowhere in creature's."""
        from creature.procs import run

        if not self._caps(creature_api).guest_access:
            pytest.skip(f"driver {self.driver} refuses them (test_access_options_refused_where_guests_cannot_take_them)")
        cli = creature_cli
        cli.ok("create", "conf-acc", "--driver", self.driver, "--template", template, "--memory", "128M",
               "--ssh-key", str(self._key_file(tmp_path)), "--root-password", TEST_PASSWORD)
        try:
            dump = creature_api.inventory.dump()
            assert TEST_PASSWORD not in dump and "$6$" not in dump
            if not self._caps(creature_api).exec:
                return  # nothing here looks inside this driver's guests
            self._ready(cli, "conf-acc")
            assert TEST_KEY in cli.ok("exec", "conf-acc", "--", "cat", "/root/.ssh/authorized_keys").out
            modes = cli.ok("exec", "conf-acc", "--", "stat", "-c", "%a", "/root/.ssh", "/root/.ssh/authorized_keys").out.split()
            assert modes == ["700", "600"], modes
            line = cli.ok("exec", "conf-acc", "--", "sh", "-c", "grep ^root: /etc/shadow || grep ^root: /etc/passwd").out
            hashed = line.split(":")[1]
            salt = hashed.split("$")[2]
            assert run(["openssl", "passwd", "-6", "-salt", salt, "-stdin"], input=TEST_PASSWORD + "\n").stdout.strip() == hashed
        finally:
            self._destroy(cli, "conf-acc")
