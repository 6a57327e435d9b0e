"""The stack of `make run` (`python -m local.run`) as a child process on free ports, for the
tests that use the service from outside: the browser tests, the fuzzing and the smoke test.

It provisions its own emulator and demo data; nothing of the API tests' emulator leaks in.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from local.emulator import free_port
from local.records import totp_code

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"


def port_is_closed(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


class LocalStack:
    """`python -m local.run` (what `make run` executes) on free ports, as a child process."""

    def __init__(self, log_name: str):
        self.port = free_port()
        self.aws_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.aws_endpoint = f"http://127.0.0.1:{self.aws_port}"
        ARTIFACTS.mkdir(exist_ok=True)
        self.log_path = ARTIFACTS / log_name
        self._process: subprocess.Popen | None = None

    def start(self, timeout: float = 90) -> "LocalStack":
        # The stack makes its own emulator; nothing of the caller's AWS setup may leak in.
        env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
        env.update(PORT=str(self.port), LOCAL_AWS_PORT=str(self.aws_port), PYTHONUNBUFFERED="1")
        with open(self.log_path, "wb") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "local.run"],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"`python -m local.run` exited with {self._process.returncode} before "
                    f"it served /health:\n{self.log_tail()}"
                )
            try:
                if requests.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"`python -m local.run` did not serve /health within {timeout}s:\n{self.log_tail()}")

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM, as a service manager (or Ctrl-C) stops it; returns the exit code."""
        process = self._process
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise RuntimeError(
                    f"`python -m local.run` ignored SIGTERM for {timeout}s:\n{self.log_tail()}"
                ) from None
        return process.returncode

    def staff_totp_secrets(self) -> list[str]:
        """The `Demo staff TOTP secret: ...` lines `make run` prints, in order."""
        text = self.log_path.read_text(errors="replace")
        return re.findall(r"^Demo staff TOTP secret: (\S+)$", text, flags=re.MULTILINE)

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def log_in_staff(url: str, email: str, password: str, totp_secret: str) -> dict:
    """A staff login through the API: the password, then the authenticator's code. The tokens."""
    challenge = requests.post(f"{url}/auth/login", json={"username": email, "password": password}, timeout=10)
    assert challenge.status_code == 200 and challenge.json().get("challenge") == "SOFTWARE_TOKEN_MFA", challenge.text
    body = {"username": email, "session": challenge.json()["session"], "code": totp_code(totp_secret)}
    response = requests.post(f"{url}/auth/mfa", json=body, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()
