"""Install citebot the way users do and use it: build the wheel, install it (not editable) into a
fresh venv for each Python 3.11-3.13 found on this machine, then run `citebot index`, `ask`, `repl`,
a bad setting, `telegram --help` and `citebot telegram` answering through the fake Bot API.

Run with the test venv's Python (it serves the fake Bot API): `.venv/bin/python .ci/smoke.py`.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import ask_bot_process  # noqa: E402

QUESTION = "Which five minerals did Beijing put under export controls?"
VERSIONS = ("3.11", "3.12", "3.13")


def interpreter(version: str) -> str | None:
    """A working python of `version`: one of pyenv's, or on PATH (a pyenv shim may not run)."""
    pyenv = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}*/bin/python{version}")))
    for candidate in [*reversed(pyenv), shutil.which(f"python{version}")]:
        if candidate and subprocess.run([candidate, "-c", "pass"], capture_output=True).returncode == 0:
            return candidate
    return None


def run(command: list[str], env: dict[str, str], cwd: Path, stdin: str | None = None, expect: int = 0) -> str:
    result = subprocess.run(command, env=env, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=1800)
    if result.returncode != expect:
        sys.exit(f"smoke: {' '.join(command[-3:])} exited {result.returncode} (expected {expect}):\n"
                 f"{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
    return result.stdout + result.stderr


def check(condition: bool, what: str, output: str) -> None:
    if not condition:
        sys.exit(f"smoke: {what}:\n{output[-3000:]}")


def smoke(python: str, wheel: Path, scratch: Path) -> None:
    venv = scratch / "venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], os.environ.copy(), scratch)
    citebot = str(venv / "bin" / "citebot")
    home = scratch / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CITEBOT_", "TELEGRAM_", "CHROMA_"))}
    env |= {"XDG_DATA_HOME": str(home / "data"), "HOME": str(home)}

    out = run([citebot, "index"], env, home)
    check("sample documents" in out and "2 added" in out, "first index did not set up the samples", out)
    out = run([citebot, "ask", QUESTION], env, home)
    check("Sources" in out and "[1]" in out, "ask gave no cited answer", out)
    out = run([citebot, "repl"], env, home, stdin=f"What is indium used for?\n{QUESTION}\n/quit\n")
    check(out.count("Sources") >= 2, "the REPL did not answer both turns", out)
    out = run([citebot, "ask", QUESTION], env | {"CITEBOT_TOP_K": "lots"}, home, expect=2)
    check(out.strip().count("\n") == 0 and "CITEBOT_TOP_K" in out, "a bad setting is not one line", out)
    run([citebot, "telegram", "--help"], env, home)
    telegram(citebot, env, home)


def telegram(citebot: str, env: dict[str, str], home: Path) -> None:
    """`citebot telegram` from the wheel answers one question through the fake Bot API, then stops on SIGTERM."""
    api, code, _, err = ask_bot_process([citebot, "telegram"], env, "What is indium used for?", cwd=home)
    check(bool(api.sent(7)) and "touch screens" in api.texts(7)[0], "the Telegram bot did not answer", err)
    check(code == 0, f"citebot telegram exited {code}", err)


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        dist = Path(scratch) / "dist"
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(ROOT)],
                       check=True)
        shutil.rmtree(ROOT / "build", ignore_errors=True)
        (wheel,) = dist.glob("citebot-*.whl")
        for version in VERSIONS:
            python = interpreter(version)
            if python is None:
                print(f"smoke: Python {version}: skipped (no python{version} on this machine)", flush=True)
                continue
            started = time.monotonic()
            work = Path(scratch) / version
            work.mkdir()
            smoke(python, wheel, work)
            print(f"smoke: Python {version}: wheel installed; index, ask, repl, bad setting, telegram ok "
                  f"({time.monotonic() - started:.0f}s)", flush=True)


if __name__ == "__main__":
    main()
