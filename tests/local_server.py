"""A model server run as a child process on a free loopback port, for the tests and benchmarks that
talk to a real one (tests/test_openai_backend.py, benchmarks/bench_server.py)."""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager

import httpx


def free_port() -> int:
    """A loopback port nothing listens on (bound and released at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerDidNotStart(Exception):
    """The server exited, or did not answer in time; the message ends with the end of its output."""


@contextmanager
def running_server(
    command: Sequence[str],
    env: Mapping[str, str],
    ready_url: str,
    *,
    name: str,
    start_within: float,
    stop_within: float,
    ready: Callable[[int], bool] = lambda status: status == 200,
) -> Iterator[subprocess.Popen]:
    """Start ``command`` and wait until a GET of ``ready_url`` answers with a status ``ready`` accepts;
    on the way out the server is terminated (killed after ``stop_within`` seconds). A server that exits
    first, or is not ready within ``start_within`` seconds, is a ``ServerDidNotStart``."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(list(command), stdout=log, stderr=subprocess.STDOUT, env=dict(env))

        def output() -> str:
            log.seek(0)
            return log.read().decode(errors="replace")[-3000:]

        try:
            deadline = time.monotonic() + start_within
            while True:
                if process.poll() is not None:
                    raise ServerDidNotStart(f"{name} exited with {process.returncode}:\n{output()}")
                try:
                    if ready(httpx.get(ready_url, timeout=2).status_code):
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise ServerDidNotStart(f"{name} did not come up within {start_within:g} s:\n{output()}")
                time.sleep(0.5)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=stop_within)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
