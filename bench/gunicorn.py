"""gunicorn serving the project over real HTTP for the benchmarks, against the bench database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.database import tree_cpu_seconds

BASE_DIR = Path(__file__).resolve().parent.parent


class GunicornServer:
    """gunicorn serving the project against the bench database (its output kept in a file)."""

    def __init__(
        self,
        *,
        workers: int,
        threads: int,
        name: str,
        app: str = "kameng.wsgi:application",
        port_in_urls: bool = False,
    ) -> None:
        """`threads` > 0: gthread workers of that many threads (keep-alive connections); 0:
        sync workers, one request at a time each, as the production image runs them."""
        self.workers, self.threads, self.app = workers, threads, app
        # The sandbox posts its webhooks to the platform's own address, which needs the port.
        self.port_in_urls = port_in_urls
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        handle, name = tempfile.mkstemp(prefix=f"bench-{name}-gunicorn-", suffix=".log")
        os.close(handle)
        self.log = Path(name)

    def start(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        env = dict(os.environ, DEBUG="0", PYTHONUNBUFFERED="1")
        if self.port_in_urls:
            env["PUBLIC_URL_PORT"] = str(self.port)
        cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            self.app,
            f"--bind=127.0.0.1:{self.port}",
            f"--workers={self.workers}",
            "--preload",
        ]
        if self.threads:
            cmd += [f"--threads={self.threads}", "--worker-class=gthread", "--keep-alive=30"]
        else:
            cmd += ["--worker-class=sync"]
        with self.log.open("wb") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                cmd, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        import requests

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self._log_tail()}")
            try:
                requests.get(self.url("/"), headers={"Host": "shop.localhost"}, timeout=2)
                return
            except requests.ConnectionError:
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer:\n{self._log_tail()}")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def worker_cpu_seconds(self) -> float:
        """CPU time used so far by the gunicorn processes (master and workers)."""
        assert self.process is not None
        return tree_cpu_seconds(self.process.pid)

    def _log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def stop(self) -> list[str]:
        """Stop gunicorn; the tracebacks and errors it logged, if any."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        text = self.log.read_text(errors="replace")
        self.log.unlink()
        return [
            line[:300]
            for line in text.splitlines()
            if "Traceback" in line or " ERROR " in line or "[CRITICAL]" in line
        ][:20]
