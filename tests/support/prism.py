"""Stoplight Prism serving Twilio's own OpenAPI description, so every request we send is checked
against Twilio's contract (an invalid request gets 422 from Prism, and the test fails).

Prism and the spec files come from the npm registry and are cached in `.cache/` (ignored by git):
`@stoplight/prism-cli@5` installed once, Twilio's `twilio-oai/spec/json/*.json` taken from the npm
package `@twilio-alpha/mcp@0.7.0`. `python -m tests.support.prism` prepares the cache by hand.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("DEFLECT_TEST_CACHE", ROOT / ".cache"))
PRISM_PACKAGE = "@stoplight/prism-cli@5"
SPEC_PACKAGE = "@twilio-alpha/mcp@0.7.0"
SPECS = ("twilio_api_v2010.json", "twilio_conversations_v1.json", "twilio_lookups_v2.json")


class PrismUnavailable(RuntimeError):
    """Node/npm is missing or the registry cannot be reached: the contract tests cannot run."""


def _run(cmd: list[str], cwd: Path) -> None:
    if shutil.which(cmd[0]) is None:
        raise PrismUnavailable(
            f"`{cmd[0]}` not found: the Twilio contract tests need Node.js 18+ with npm (see README)"
        )
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise PrismUnavailable(f"`{' '.join(cmd)}` failed:\n{result.stderr[-2000:]}")


def prism_binary() -> Path:
    target = CACHE / "prism"
    binary = target / "node_modules" / ".bin" / "prism"
    if not binary.exists():
        target.mkdir(parents=True, exist_ok=True)
        print(f"[prism] installing {PRISM_PACKAGE} into {target} (once)", file=sys.stderr)
        _run(
            [
                "npm",
                "install",
                "--no-save",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(target),
                PRISM_PACKAGE,
            ],
            target,
        )
    return binary


def spec_path(name: str) -> Path:
    target = CACHE / "twilio-oai"
    path = target / name
    if not all((target / spec).exists() for spec in SPECS):
        target.mkdir(parents=True, exist_ok=True)
        print(f"[prism] fetching Twilio's OpenAPI files from {SPEC_PACKAGE} (once)", file=sys.stderr)
        _run(["npm", "pack", "--silent", SPEC_PACKAGE], target)
        tarball = next(target.glob("twilio-alpha-mcp-*.tgz"))
        with tarfile.open(tarball) as archive:
            for spec in SPECS:
                member = archive.getmember(f"package/twilio-oai/spec/json/{spec}")
                source = archive.extractfile(member)
                assert source is not None
                (target / spec).write_bytes(source.read())
        tarball.unlink()
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PrismServer:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start(spec: str, log_dir: Path, probe_path: str) -> PrismServer:
    """Start `prism mock` on a free loopback port and wait until it answers `probe_path`."""
    binary, spec_file = prism_binary(), spec_path(spec)
    port = free_port()
    log_path = log_dir / f"prism-{spec}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(binary), "mock", "-h", "127.0.0.1", "-p", str(port), str(spec_file)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = PrismServer(f"http://127.0.0.1:{port}", process, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise PrismUnavailable(f"prism exited with {process.returncode}:\n{server.log()[-2000:]}")
        try:
            requests.get(server.url + probe_path, timeout=1, auth=("AC" + "0" * 32, "x"))
            return server
        except (requests.ConnectionError, requests.Timeout):  # still starting (slowly, on a busy machine)
            time.sleep(0.2)
    server.stop()
    raise PrismUnavailable(f"prism did not start within 60 s:\n{server.log()[-2000:]}")


if __name__ == "__main__":
    print(prism_binary())
    for spec in SPECS:
        print(spec_path(spec))
