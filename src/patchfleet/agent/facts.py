"""What the device is: OS, kernel, architecture, hostname, IP addresses."""

from __future__ import annotations

import json
import platform
import socket
from pathlib import Path

import patchfleet
from patchfleet.agent.runner import Runner, RunnerError
from patchfleet.protocol import v1

_FAMILIES = {
    "debian": "debian",
    "ubuntu": "debian",
    "rhel": "rhel",
    "fedora": "rhel",
    "centos": "rhel",
    "suse": "suse",
    "opensuse": "suse",
    "sles": "suse",
}


def parse_os_release(text: str) -> dict[str, str]:
    """Parse ``/etc/os-release`` (shell-style KEY=value lines)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.startswith("#"):
            values[key.strip()] = value.strip().strip('"').strip("'")
    return values


def os_family(release: dict[str, str]) -> str:
    """debian, rhel, suse, or the distribution id."""
    for word in [release.get("ID", ""), *release.get("ID_LIKE", "").split()]:
        if word in _FAMILIES:
            return _FAMILIES[word]
    return release.get("ID", "") or platform.system().lower()


def parse_ip_json(text: str) -> list[str]:
    """Global addresses from ``ip -j addr`` output."""
    try:
        links = json.loads(text)
    except ValueError:
        return []
    ips = []
    for link in links if isinstance(links, list) else []:
        for addr in link.get("addr_info", []):
            if addr.get("scope") == "global" and addr.get("local"):
                ips.append(str(addr["local"]))
    return ips


def collect(
    runner: Runner,
    *,
    package_manager: str,
    hostname: str | None = None,
    os_release: Path = Path("/etc/os-release"),
) -> v1.Facts:
    """Gather the device's facts."""
    release = parse_os_release(os_release.read_text()) if os_release.exists() else {}
    ips: list[str] = []
    if runner.which("ip"):
        try:
            ips = parse_ip_json(
                runner.run(["ip", "-j", "addr", "show"], timeout=10).stdout
            )
        except RunnerError:
            ips = []
    uname = platform.uname()
    return v1.Facts(
        hostname=hostname or socket.gethostname(),
        os_family=os_family(release),
        os_id=release.get("ID", ""),
        os_name=release.get("PRETTY_NAME", uname.system),
        os_version=release.get("VERSION_ID", ""),
        kernel=uname.release,
        arch=uname.machine,
        ips=ips,
        agent_version=patchfleet.__version__,
        package_manager=package_manager,
    )
