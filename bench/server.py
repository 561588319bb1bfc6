"""gunicorn on a free loopback port, and the HTTP client the measurements use."""

import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.database import BASE_DIR

HOST = "127.0.0.1"
WORKERS = 2
READ_CHUNK = 64 * 1024


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


class Gunicorn:
    """The app under gunicorn with the project's config, ``--workers 2``, DEBUG off.

    Requests carry ``X-Forwarded-Proto: https`` as the TLS proxy in front of production does,
    so the HTTPS redirect and secure cookies behave as deployed.
    """

    def __init__(self, database_url: str):
        self.port = free_port()
        handle, name = tempfile.mkstemp(prefix="bench-gunicorn-", suffix=".log")
        os.close(handle)
        self.log = Path(name)
        # The child keeps its own copy of the descriptor; ours can close at once.
        with self.log.open("wb") as log:
            self.process = self._start(database_url, log)
        self._wait_until_ready()

    def _start(self, database_url: str, log) -> subprocess.Popen:
        return subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "--config",
                str(BASE_DIR / "gunicorn.conf.py"),
                "--bind",
                f"{HOST}:{self.port}",
                "--workers",
                str(WORKERS),
                # The default socket path is shared with any other gunicorn of this user.
                "--no-control-socket",
            ],
            cwd=BASE_DIR,
            env={**os.environ, "DATABASE_URL": database_url, "DEBUG": "false"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def _wait_until_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {self.log}")
            try:
                if self.get("/healthz")[0] == 200 and len(self.worker_pids()) == WORKERS:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer /healthz within {timeout} s")

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def reset_peak_rss(self) -> None:
        """Start a new peak-RSS (VmHWM) window for every worker (Linux clear_refs)."""
        for pid in self.worker_pids():
            Path(f"/proc/{pid}/clear_refs").write_text("5")

    def peak_rss_bytes(self) -> int:
        """The highest VmHWM among the workers since the last reset."""
        peaks = []
        for pid in self.worker_pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) * 1024)
        return max(peaks)

    def get(self, path: str, *, cookie: str = "", drain: bool = False) -> tuple[int, bytes | int]:
        """GET ``path``; returns the status and the body, or with ``drain`` the body's length
        (read to the end in chunks and dropped, as a download is saved)."""
        connection = http.client.HTTPConnection(HOST, self.port, timeout=300)
        try:
            headers = {"Host": HOST, "X-Forwarded-Proto": "https"}
            if cookie:
                headers["Cookie"] = cookie
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            if not drain:
                return response.status, response.read()
            size = 0
            while chunk := response.read(READ_CHUNK):
                size += len(chunk)
            return response.status, size
        finally:
            connection.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        self.stop()
        if exc_type is None:
            self.log.unlink()
        else:
            print(f"gunicorn's log: {self.log}\n{self.log_tail()}", file=sys.stderr)
