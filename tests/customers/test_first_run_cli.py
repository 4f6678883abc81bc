"""The README's first run, as a real process: phone sign-in works on the embedded defaults and
``toolbox doctor`` flags an OTP sender that cannot deliver."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import httpx

from tests.test_cli import TOOLBOX, free_port, run


def test_serve_demo_prints_sign_in_codes_that_verify(tmp_path: Path) -> None:
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "TOOLBOX_LOG_LEVEL": "INFO"}
    out, err = (tmp_path / "out.txt").open("w"), (tmp_path / "err.txt").open("w")
    proc = subprocess.Popen([TOOLBOX, "serve", "--demo", "--port", str(port)], cwd=tmp_path, env=env,
                            stdout=out, stderr=err)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/ready", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise AssertionError("toolbox serve --demo did not become ready")
        sent = httpx.post(f"{base}/store/otp/request", json={"phone": "90 123 45 67"}, timeout=10)
        assert sent.status_code == 200, sent.text
        code = None
        for _ in range(50):
            found = re.search(r"sign-in code for \+998901234567: (\d{6})", (tmp_path / "err.txt").read_text())
            if found:
                code = found.group(1)
                break
            time.sleep(0.1)
        assert code, "the code was not printed to the console"
        verified = httpx.post(f"{base}/store/otp/verify", json={"phone": "+998901234567", "code": code}, timeout=10)
        assert verified.status_code == 200, verified.text
        assert "printed in this console" in (tmp_path / "out.txt").read_text()
    finally:
        proc.terminate()
        proc.wait(10)
        out.close()
        err.close()


def test_doctor_fails_on_an_unknown_otp_sender(tmp_path: Path) -> None:
    assert run("migrate", cwd=tmp_path).returncode == 0
    result = run("doctor", cwd=tmp_path, env={"TOOLBOX_AUTH__OTP_SENDER": "eskiz"})
    assert result.returncode == 1
    assert "TOOLBOX_AUTH__OTP_SENDER='eskiz' is not provided by any enabled plugin" in result.stdout
