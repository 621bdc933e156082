"""Open a loancore book in Fava, beancount's web interface.

:func:`open_in_fava` exports a :class:`~loancore.ports.LedgerStore` to a beancount file
(:func:`~loancore.adapters.beancount_export.write_beancount`) and starts Fava on it in a child
process, on loopback by default; it returns a running :class:`FavaServer` (a context manager that
stops Fava on exit). :func:`serve_fava` is the blocking form a command line calls (``loancore
fava``): it prints nothing itself, waits until Fava answers, calls ``on_ready(url)`` and keeps
Fava running until it exits or the caller is interrupted.

Fava is an application, not a library loancore imports: it runs as ``python -m fava.cli`` in the
interpreter that runs loancore, so it must be installed there (``pip install fava``; the ``dev``
extra has it). Without it, :class:`FavaUnavailable` says so before anything is written.
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Self

from loancore.adapters.beancount_export import write_beancount
from loancore.checks import require_text
from loancore.errors import InvalidInput, LoancoreError
from loancore.ports import LedgerStore

__all__ = [
    "READY_TIMEOUT_SECONDS",
    "FavaServer",
    "FavaUnavailable",
    "fava_command",
    "free_port",
    "open_in_fava",
    "serve_fava",
]

READY_TIMEOUT_SECONDS = 60.0
"""How long :meth:`FavaServer.wait_ready` waits for Fava's first answer by default (Fava loads
and checks the whole file before it serves a page)."""
_POLL_SECONDS = 0.2
_STOP_SECONDS = 10.0


class FavaUnavailable(LoancoreError, RuntimeError):
    """Fava is not installed in this interpreter, or it exited before it served a page."""


def fava_command(beancount_file: str | Path, *, host: str, port: int) -> list[str]:
    """The command line that runs Fava on ``beancount_file`` at ``host:port`` (read-only mode:
    the file is an export, an edit made in Fava would be lost at the next export)."""
    require_text("host", host, length_max=255)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise InvalidInput("port", port, "expected an int in 1..65535")
    return [
        sys.executable,
        "-m",
        "fava.cli",
        str(beancount_file),
        "--host",
        host,
        "--port",
        str(port),
        "--read-only",
    ]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


class FavaServer:
    """A Fava child process serving one beancount file at :attr:`url`.

    Use it as a context manager (``with open_in_fava(...) as server:``) or call :meth:`stop`.
    """

    def __init__(self, process: subprocess.Popen[bytes], url: str, beancount_file: Path) -> None:
        self.process = process
        self.url = url
        self.beancount_file = beancount_file
        self.ledger_url = url  # the file's own address (``<url><slug>/``), known once Fava answers

    def page_url(self, report: str = "balance_sheet") -> str:
        """The address of one of Fava's reports (``balance_sheet``, ``income_statement``,
        ``trial_balance``, ``journal``, ...) for this file (after :meth:`wait_ready`)."""
        slug = require_text("report", report, length_max=100).strip("/")
        return f"{self.ledger_url}{slug}/"

    # float-ok: a timeout in seconds, not money
    def wait_ready(self, timeout_seconds: float = READY_TIMEOUT_SECONDS) -> None:
        """Return once Fava answers an HTTP request; raise :class:`FavaUnavailable` if it exits
        first or does not answer within ``timeout_seconds``."""
        attempts_max = max(1, int(timeout_seconds / _POLL_SECONDS))
        for _ in range(attempts_max):
            if self.process.poll() is not None:
                raise FavaUnavailable(f"Fava exited with status {self.process.returncode}")
            try:
                with urllib.request.urlopen(self.url, timeout=5) as response:
                    # Fava redirects its root to ``/<slug of the file's title>/<report>/``.
                    landed = urllib.parse.urlsplit(response.geturl()).path.strip("/")
                    self.ledger_url = f"{self.url}{landed.split('/')[0]}/" if landed else self.url
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(_POLL_SECONDS)
        raise FavaUnavailable(f"Fava did not answer at {self.url} within {timeout_seconds} s")

    def stop(self) -> None:
        """Terminate Fava (then kill it if it has not exited after a few seconds)."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=_STOP_SECONDS)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _require_fava() -> None:
    if importlib.util.find_spec("fava") is None:
        raise FavaUnavailable(
            "Fava is not installed in this Python environment: pip install fava "
            "(or install loancore's dev extra)"
        )


def open_in_fava(
    store: LedgerStore,
    beancount_file: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    timeout_seconds: float = READY_TIMEOUT_SECONDS,  # float-ok: seconds
    title: str = "loancore ledger",
    period_ends: Sequence[date] | None = None,
) -> FavaServer:
    """Export ``store`` to ``beancount_file`` and start Fava on it; return once Fava answers.

    ``port`` None picks a free one. ``title`` and ``period_ends`` go to
    :func:`~loancore.adapters.beancount_export.export_store` (Fava shows the title and addresses
    the file by it). Fava's output goes to this process's stderr.
    """
    _require_fava()
    path = write_beancount(store, beancount_file, title=title, period_ends=period_ends)
    chosen = free_port(host) if port is None else port
    command = fava_command(path, host=host, port=chosen)
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    server = FavaServer(process, f"http://{host}:{chosen}/", path)
    try:
        server.wait_ready(timeout_seconds)
    except BaseException:
        server.stop()
        raise
    return server


def serve_fava(
    store: LedgerStore,
    beancount_file: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 5000,
    on_ready: Callable[[str], object] | None = None,
    title: str = "loancore ledger",
) -> int:
    """The blocking form for a command line: export, start Fava, call ``on_ready`` with the
    balance sheet's address, then wait until Fava exits (its exit status is returned) or the
    caller is interrupted (Ctrl-C stops Fava and returns 0)."""
    server = open_in_fava(store, beancount_file, host=host, port=port, title=title)
    with server:
        try:
            if on_ready is not None:
                on_ready(server.page_url("balance_sheet"))
            return server.process.wait()
        except KeyboardInterrupt:
            return 0
