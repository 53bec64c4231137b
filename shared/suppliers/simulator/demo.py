"""The demo's two simulators (`make demo`): one per protocol, on fixed ports.

kameng/settings.py reads the same SUPPLIER_SIMULATOR_* variables with the same defaults, so the
demo suppliers seeded by `demo_seed` point at these processes.
"""

from __future__ import annotations

from collections.abc import Mapping

# The demo's two simulators; kameng/settings.py reads the same variables with the same defaults.
DEMO = {
    "kameng": {"port": ("SUPPLIER_SIMULATOR_KAMENG_PORT", "8301"), "mode": "callback",
               "key_id": "kameng-demo"},
    "classic": {"port": ("SUPPLIER_SIMULATOR_CLASSIC_PORT", "8302"), "mode": "poll",
                "key_id": "10086"},
}  # fmt: skip
DEMO_SECRET = "kameng-demo-simulator-secret"  # noqa: S105 - the demo's published secret


def demo_key_id(protocol: str) -> str:
    return str(DEMO[protocol]["key_id"])


def demo_argv(protocol: str, environ: Mapping[str, str]) -> list[str]:
    spec = DEMO[protocol]
    port_var, port_default = spec["port"]
    mode_var = f"SUPPLIER_SIMULATOR_{protocol.upper()}_MODE"
    return [
        "--protocol", protocol,
        "--host", environ.get("SUPPLIER_SIMULATOR_HOST", "127.0.0.1"),
        "--port", environ.get(port_var, port_default),
        "--mode", environ.get(mode_var, str(spec["mode"])),
        "--key-id", str(spec["key_id"]),
        "--secret", environ.get("SUPPLIER_SIMULATOR_SECRET", DEMO_SECRET),
        "--latency-ms", environ.get("SUPPLIER_SIMULATOR_LATENCY_MS", "1500"),
        "--failure-rate", environ.get("SUPPLIER_SIMULATOR_FAILURE_RATE", "0.1"),
    ]  # fmt: skip
