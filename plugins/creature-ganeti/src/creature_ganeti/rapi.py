"""The one boundary between creature and a Ganeti cluster: its RAPI over HTTPS, jobs awaited by long-poll.

Plain HTTPS from the standard library (http.client and ssl), not the client Ganeti ships
(ganeti.rapi.client): that one comes only with Ganeti itself (Debian's python3-ganeti-rapi, not on
PyPI), is tied to the cluster's version and needs pycurl; creature needs a dozen JSON endpoints, exact
control of TLS (the cluster's own certificate as the only trust anchor) and a count of its requests
(`creature list` must cost one, whatever the number of instances). Ganeti's RAPI server closes every
connection after one answer, so each request is one TLS connection and nothing is kept open.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import ssl
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from creature.sdk import CreatureError, InputError

DEFAULT_PORT = 5080
FINAL = ("success", "error", "canceled")
# OpPrereqError codes (Ganeti's errors.ECODE_*) that say the request itself was wrong: nothing was done on the cluster
INPUT_CODES = {"wrong_input", "unknown_entity", "already_exists", "resource_not_unique"}


class Unreachable(CreatureError):
    """The RAPI does not answer (refused, timed out, TLS failed)."""


class BadCredentials(CreatureError):
    """The RAPI answered 401: the user name or password is wrong."""


class NotOnCluster(CreatureError):
    """The RAPI answered 404: the instance (or job) is not on the cluster."""


class JobFailed(CreatureError):
    """A Ganeti job ended in error: the message names the job, the opcode and Ganeti's reason."""


class JobRefused(InputError):
    """A Ganeti job was refused for its input before it changed anything (OpPrereqError of a wrong value or name)."""


def parse_url(url: str) -> tuple[str, int]:
    """(host, port) of a RAPI URL https://HOST[:PORT][/]; anything else is an InputError."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "https":
        raise InputError(f"invalid RAPI URL {url!r}: use https://HOST[:PORT] (Ganeti's RAPI serves HTTPS, port {DEFAULT_PORT})")
    if parts.username is not None or parts.password is not None:
        raise InputError(f"invalid RAPI URL {url!r}: give the user with --user and the password in a file, never in the URL")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise InputError(f"invalid RAPI URL {url!r}: only https://HOST[:PORT], without a path")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise InputError(f"invalid RAPI URL {url!r}: bad port") from None
    if not parts.hostname:
        raise InputError(f"invalid RAPI URL {url!r}: no host")
    return parts.hostname, port


def tls_context(ca: bytes | None) -> ssl.SSLContext:
    """Verification against ca (the cluster's own certificate) with the host name unchecked, or the system's CAs.

    Ganeti makes its RAPI certificate itself (CN=ganeti.example.com, no subjectAltName): the name in it
    never matches the cluster's. Trusting that one certificate alone (it is the only anchor) pins the
    cluster; the host name adds nothing to that, so its check is off. Without ca, the system's CAs and
    the host-name check apply as for any HTTPS site.
    """
    if ca is None:
        return ssl.create_default_context()
    context = ssl.create_default_context(cadata=ca.decode())
    context.check_hostname = False
    return context


def one_line(text: str) -> str:
    return re.sub(r"\s+", " ", str(text)).strip()


@dataclass
class Rapi:
    """A Ganeti cluster's RAPI at url, as user (password given), trusting ca (PEM) or the system's CAs."""

    url: str
    user: str
    password: str = field(repr=False)  # never shown: not in reprs, logs or argv
    ca: bytes | None = field(default=None, repr=False)
    timeout: float = 30

    calls: ClassVar[Counter] = Counter()  # "METHOD /path" of every request made in this process

    def __post_init__(self):
        self.host, self.port = parse_url(self.url)
        self.base = f"https://{self.host}:{self.port}" if ":" not in self.host else f"https://[{self.host}]:{self.port}"
        self._context = tls_context(self.ca)
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        self._headers = {"Authorization": f"Basic {token}", "Accept": "application/json",
                         "Content-Type": "application/json", "User-Agent": "creature-ganeti"}

    @classmethod
    def from_files(cls, url: str, user: str, password_file: Path, ca_file: Path | None) -> Rapi:
        password = password_file.read_text().rstrip("\n")
        return cls(url, user, password, ca_file.read_bytes() if ca_file is not None and ca_file.exists() else None)

    def request(self, method: str, path: str, body: Any = None, timeout: float | None = None) -> Any:
        """One request; the decoded JSON answer, or the creature error that says what went wrong."""
        self.calls[f"{method} {path}"] += 1
        data = json.dumps(body).encode() if body is not None else None
        conn = http.client.HTTPSConnection(self.host, self.port, context=self._context, timeout=timeout or self.timeout)
        try:
            conn.request(method, path, body=data, headers=self._headers)
            response = conn.getresponse()
            raw = response.read()
        except ssl.SSLCertVerificationError as exc:
            raise Unreachable(f"TLS: the certificate of {self.base} is not the one trusted for this cluster "
                              f"({exc.verify_message})") from None
        except (OSError, http.client.HTTPException) as exc:
            raise Unreachable(f"cannot reach Ganeti's RAPI at {self.base}: {one_line(exc) or type(exc).__name__}") from None
        finally:
            conn.close()
        if response.status == 200:
            try:
                return json.loads(raw) if raw else None
            except ValueError:
                raise CreatureError(f"RAPI at {self.base} answered {method} {path} with no JSON") from None
        raise self._error(method, path, response.status, raw)

    def _error(self, method: str, path: str, status: int, raw: bytes) -> CreatureError:
        try:
            detail = json.loads(raw)
            message = one_line(detail.get("message") or detail.get("explain") or "")
        except (ValueError, AttributeError):
            message = one_line(raw.decode(errors="replace"))[:300]
        if status == 401:
            return BadCredentials(f"RAPI at {self.base} refused user {self.user!r}: wrong user name or password (HTTP 401)")
        if status == 403:
            return CreatureError(f"RAPI at {self.base}: user {self.user!r} may not {method} {path} (HTTP 403: "
                                 "give it write access in the cluster's RAPI users file)")
        if status == 404:
            return NotOnCluster(f"RAPI at {self.base}: {method} {path}: not found" + (f" ({message})" if message else ""))
        if status == 400:
            return InputError(f"RAPI at {self.base} refused {method} {path}: {message or 'bad request'}")
        return CreatureError(f"RAPI at {self.base}: {method} {path} failed (HTTP {status})" + (f": {message}" if message else ""))

    # jobs
    def submit(self, method: str, path: str, body: Any = None) -> int:
        """Submit a job (a write request); its id."""
        answer = self.request(method, path, body)
        try:
            return int(answer)
        except (TypeError, ValueError):
            raise CreatureError(f"RAPI at {self.base}: {method} {path} answered {answer!r}, not a job id") from None

    def wait(self, job: int, deadline: float | None = None) -> dict:
        """Wait for job with Ganeti's long-poll (each request returns as soon as the job changes); its final record.

        A failed job raises JobFailed (JobRefused when Ganeti refused the input before doing anything).
        """
        info = serial = None
        while True:
            change = self.request("GET", f"/2/jobs/{job}/wait",
                                  {"fields": ["status"], "previous_job_info": info, "previous_log_serial": serial},
                                  timeout=max(self.timeout, 60))
            if change:  # None: nothing changed while the server waited
                info = change.get("job_info") or info
                for entry in change.get("log_entries") or []:
                    serial = max(serial or 0, entry[0])
            if info and info[0] in FINAL:
                break
            if deadline is not None and time.monotonic() > deadline:
                raise CreatureError(f"ganeti job {job} is still {info[0] if info else 'queued'}: gave up waiting "
                                    "(the cluster carries on with it)")
        record = self.request("GET", f"/2/jobs/{job}")
        if record.get("status") != "success":
            raise job_error(job, record)
        return record

    def run(self, method: str, path: str, body: Any = None) -> dict:
        """Submit a job and wait for it; its final record."""
        return self.wait(self.submit(method, path, body))


def job_error(job: int, record: dict) -> CreatureError:
    """One line naming the job, the opcode that failed and Ganeti's reason (JobRefused for a refused input)."""
    ops = record.get("ops") or []
    statuses = record.get("opstatus") or []
    results = record.get("opresult") or []
    index = next((i for i, s in enumerate(statuses) if s in ("error", "canceled")), max(len(statuses) - 1, 0))
    op_id = ops[index].get("OP_ID", "?") if index < len(ops) and isinstance(ops[index], dict) else "?"
    if record.get("status") == "canceled":
        return JobFailed(f"ganeti job {job} ({op_id}) was canceled")
    kind, message, code = decode_error(results[index] if index < len(results) else None)
    text = f"ganeti job {job} ({op_id}) failed: {message}" + (f" [{code}]" if code else "")
    if kind == "OpPrereqError" and code in INPUT_CODES:
        return JobRefused(text)
    return JobFailed(text)


def decode_error(result: Any) -> tuple[str, str, str | None]:
    """(exception class, message, error code) of an opcode's failed result, as Ganeti encodes it."""
    if isinstance(result, list) and len(result) == 2 and isinstance(result[0], str):
        kind, args = result
        if isinstance(args, list) and args:
            message = one_line(args[0])
            code = args[1] if len(args) > 1 and isinstance(args[1], str) else None
            return kind, f"{kind}: {message}" if kind not in ("OpPrereqError", "OpExecError") else message, code
        return kind, one_line(args), None
    return "", one_line(result) if result is not None else "no reason given", None


def job_seconds(record: dict) -> float:
    """How long the job ran on the master (Ganeti's own timestamps: start_ts and end_ts, [seconds, microseconds])."""
    def stamp(value):
        return value[0] + value[1] / 1e6 if isinstance(value, list) and len(value) == 2 else None
    start, end = stamp(record.get("start_ts")), stamp(record.get("end_ts"))
    return end - start if start is not None and end is not None else 0.0
