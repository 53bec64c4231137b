"""Run Kameng on one machine: `python -m kameng.dev demo | test [pytest args] | bench [args]`.

Starts the embedded PostgreSQL and Redis unless `DATABASE_URL` / `REDIS_URL` are set, runs the
command with those URLs in its environment, and on exit (Ctrl-C included) stops every process it
started. The embedded servers keep their data under `.dev/`, so a second run reuses it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from kameng import devstack

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def _services_start() -> tuple[dict[str, str], list[str]]:
    """Environment for child processes, and the names of the servers this run started."""
    env = dict(os.environ, KAMENG_DEV="1", PYTHONUNBUFFERED="1")
    started: list[str] = []
    if not env.get("DATABASE_URL"):
        was_running = devstack.postgres_is_running()
        env["DATABASE_URL"] = devstack.postgres_url()
        if not was_running:
            started.append("postgres")
    if not env.get("REDIS_URL"):
        was_running = devstack.redis_is_running()
        env["REDIS_URL"] = devstack.redis_url()
        if not was_running:
            started.append("redis")
    return env, started


def _services_stop(started: list[str]) -> None:
    if "redis" in started:
        devstack.redis_stop()
    if "postgres" in started:
        devstack.postgres_stop()


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([PYTHON, str(BASE_DIR / "manage.py"), *args], env=env, check=True)


def demo(env: dict[str, str]) -> int:
    port = env.get("DEMO_PORT", "8000")
    env.setdefault("DEBUG", "1")
    env["PUBLIC_URL_PORT"] = port
    _manage(env, "migrate", "--noinput", "-v", "0")
    summary = subprocess.run(
        [PYTHON, str(BASE_DIR / "manage.py"), "demo_seed"],
        env=env, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    beat_schedule = devstack.dev_dir() / "celerybeat-schedule"
    commands = {
        "web": [PYTHON, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        "worker": [PYTHON, "-m", "celery", "-A", "kameng", "worker", "-l", "info",
                   "--concurrency", "2", "-n", "demo@%h"],
        "beat": [PYTHON, "-m", "celery", "-A", "kameng", "beat", "-l", "info",
                 "--scheduler", "kameng.celery:SiteAwareScheduler", "-s", str(beat_schedule)],
        # Local top-up suppliers the demo suppliers point at (one per protocol).
        "supplier-kameng": [PYTHON, "-m", "shared.suppliers.simulator", "--demo", "kameng"],
        "supplier-classic": [PYTHON, "-m", "shared.suppliers.simulator", "--demo", "classic"],
    }  # fmt: skip
    children = {
        name: subprocess.Popen(cmd, cwd=BASE_DIR, env=env, start_new_session=True)
        for name, cmd in commands.items()
    }
    stopping = False

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    time.sleep(3)  # let the processes print their start-up lines first
    print(
        f"\n{summary}\nKameng is running (web, worker, beat, supplier simulators). "
        "Press Ctrl-C to stop.\n",
        flush=True,
    )
    try:
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    print(f"{name} exited with {child.returncode}; stopping.", flush=True)
                    stopping = True
            time.sleep(0.3)
    finally:
        for child in children.values():
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
    print("Stopped web, worker and beat.", flush=True)
    return 0


def run(env: dict[str, str], argv: list[str]) -> int:
    return subprocess.call(argv, cwd=BASE_DIR, env=env)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"demo", "test", "bench", "run"}:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    env, started = _services_start()
    try:
        if command == "demo":
            return demo(env)
        if command == "test":
            return run(env, [PYTHON, "-m", "pytest", "--ds=tests.settings", *rest])
        if command == "bench":
            return run(env, [PYTHON, "-m", "bench", *rest])
        return run(env, rest)
    except KeyboardInterrupt:
        return 130
    finally:
        if started:
            print(f"Stopping embedded {' and '.join(started)}.", flush=True)
        _services_stop(started)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
