"""What create hands a guest besides its disk: SSH keys, a root password hash, cloud-init data; refused where they cannot go.

A driver says what its guests can take (Capabilities.guest_access, .cloud_init); anything else is bad input
(exit 2) before a file is made. A machine created without --ssh-key gets the home's key (creature.builtin.ssh.keys)
where its driver takes keys, so that `creature ssh` works on it.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

from creature.builtin.guest.adjust import Access
from creature.errors import InputError


@dataclass(frozen=True)
class GuestInputs:
    """create's access and NoCloud data, checked against one driver."""

    access: Access | None = None
    nocloud: object | None = None  # creature.builtin.guest.nocloud.NoCloud

    @classmethod
    def check(cls, driver, access: Access | None, cloud_init) -> GuestInputs:
        """Refuse what driver's guests cannot take; cloud_init: a NoCloud, or a user-data file's path (read and checked)."""
        if cloud_init is not None and not hasattr(cloud_init, "user_data"):
            from creature.builtin.guest.nocloud import NoCloud

            cloud_init = NoCloud.read(cloud_init)
        if access and not driver.capabilities.guest_access:
            raise InputError(f"driver {driver.name!r} cannot put --ssh-key or --root-password into its guests")
        if cloud_init is not None and not driver.capabilities.cloud_init:
            raise InputError(f"driver {driver.name!r} cannot hand cloud-init data to its guests (--cloud-init...)")
        return cls(access=access.hashed() if access else None, nocloud=cloud_init)

    @contextmanager
    def given(self, home, machine, driver, dry_run: bool = False):
        """machine.access and .nocloud set for the driver's create; yields the data to store (ssh_key).

        Without --ssh-key the home's key goes in (made on first use; a failed create that made it removes it).
        """
        from creature.builtin.ssh.keys import forget_key, home_key

        access, made, data = self.access, False, {}
        if access is not None and access.key_file:
            data["ssh_key"] = access.key_file
        elif driver.capabilities.guest_access and not dry_run:
            public, made = home_key(home)
            keys = tuple(line for line in public.read_text().splitlines() if line.strip())
            access = Access(ssh_keys=keys, root_password_hash=access.root_password_hash if access else None, key_file=str(public))
            data["ssh_key"] = str(public)
        machine.access, machine.nocloud = access, self.nocloud
        try:
            yield data
        except BaseException:
            if made:
                forget_key(home)
            raise
