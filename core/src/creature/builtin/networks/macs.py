"""MAC addresses: allocated under a driver's OUI, checked to be unicast and unused."""

from __future__ import annotations

from collections.abc import Callable

from creature.errors import CreatureError, InputError
from creature.names import MAC_RE


def check_prefix(prefix: str) -> str:
    """A driver's OUI (three octets), lower-case; a multicast OUI is a driver bug."""
    prefix = prefix.lower()
    if not MAC_RE.match(prefix + ":00:00:00") or int(prefix[:2], 16) & 1:
        raise CreatureError(f"driver MAC prefix {prefix!r} is not a unicast OUI like 52:54:00")
    return prefix


def check_mac(mac: str) -> str:
    """mac normalised to lower case, if it is a valid unicast, non-zero address."""
    mac = mac.lower()
    if not MAC_RE.match(mac):
        raise InputError(f"invalid MAC address {mac!r}: use six hex octets like 52:54:00:12:34:56")
    if int(mac[:2], 16) & 1:
        raise InputError(f"MAC address {mac} is multicast (the first octet must be even)")
    if mac == "00:00:00:00:00:00":
        raise InputError("MAC address 00:00:00:00:00:00 cannot name an interface")
    return mac


def allocate(prefix: str, in_use: Callable[[str], bool], taken: set[str] = frozenset(), max4: int = 0xFF) -> str:
    """A random MAC under prefix (fourth octet at most max4) that in_use() and taken both reject."""
    import secrets  # here: only create needs it (secrets imports hashlib)

    prefix = check_prefix(prefix)
    for _ in range(1000):
        raw = secrets.token_bytes(3)
        mac = prefix + "".join(f":{b:02x}" for b in (raw[0] % (max4 + 1), raw[1], raw[2]))
        if mac not in taken and not in_use(mac):
            return mac
    raise CreatureError(f"no free MAC address found under {prefix} after 1000 tries")


def derived_mac(prefix: str, *key: object, max4: int = 0xFF) -> str:
    """A stable MAC under prefix (fourth octet at most max4) for key, say a machine name and NIC index the spec gave no MAC."""
    import hashlib  # here: only create needs it

    digest = hashlib.sha256("/".join(str(k) for k in key).encode()).digest()
    return prefix + "".join(f":{b:02x}" for b in (digest[0] % (max4 + 1), digest[1], digest[2]))
