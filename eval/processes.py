"""The `newsrag` command as a user starts it, timed from outside: wall time, first answer, peak memory."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from newsrag.errors import NewsRagError


def newsrag_command() -> list[str]:
    """The installed `newsrag` script beside this Python, else `python -m newsrag`."""
    script = Path(sys.executable).with_name("newsrag")
    return [str(script)] if script.exists() else [sys.executable, "-m", "newsrag"]


def child_env(settings: Mapping[str, str]) -> dict[str, str]:
    """This environment, offline and unbuffered, with the bench's settings as NEWSRAG_* (they beat a config file)."""
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    env["PYTHONUNBUFFERED"] = "1"  # the serve command's "ready" line must not wait in a pipe buffer
    env.update({f"NEWSRAG_{k.upper()}": v for k, v in settings.items()})
    return env


@dataclass(frozen=True)
class Finished:
    """A command run to its end: wall seconds, the child's peak resident memory, what it printed."""

    seconds: float
    peak_rss: int  # bytes: VmHWM of the process, read while it ran
    stdout: str


def run(args: list[str], env: dict[str, str], timeout: float) -> Finished:
    """Run to completion; a failure or a timeout raises with what the command said.

    The peak is read from /proc while the command runs, not from wait4's rusage: that counts the
    resident memory this (large) process had when it forked the child.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(args, stdout=out, stderr=err, env=env)
        peak = [0]
        done = threading.Event()

        def watch() -> None:
            while not done.is_set():
                try:
                    peak[0] = max(peak[0], peak_rss(proc.pid))
                except (OSError, NewsRagError):  # exited (or became a zombie) between two reads
                    return
                done.wait(0.02)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        seconds = time.perf_counter() - started
        done.set()
        watcher.join()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if proc.returncode != 0:
        raise NewsRagError(
            f"`{' '.join(args[-4:])}` exited with {proc.returncode} after {seconds:.0f} s: {stderr[-2000:]}"
        )
    return Finished(seconds, peak[0], stdout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Served:
    """A fresh `newsrag serve`: seconds until it said it was ready and until its first /ask answer came back."""

    ready_seconds: float
    first_answer_seconds: float
    peak_rss: int  # bytes: VmHWM of the server process after that answer
    answer: dict


def serve_first_answer(args: list[str], env: dict[str, str], question: str, timeout: float) -> Served:
    """Start `newsrag serve` on a free 127.0.0.1 port, ask over its HTTP API as a client would, then stop it."""
    port = free_port()
    lines: list[str] = []
    ready = threading.Event()
    started = time.perf_counter()
    proc = subprocess.Popen(
        [*args, "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )

    def drain() -> None:  # keep reading, so a chatty server never blocks on a full pipe
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "is ready at" in line:
                ready.set()
        ready.set()  # it exited: stop waiting

    threading.Thread(target=drain, daemon=True).start()
    try:
        if not ready.wait(timeout) or proc.poll() is not None:
            raise NewsRagError(
                f"`newsrag serve` did not start within {timeout:.0f} s: {''.join(lines)[-2000:]}"
            )
        ready_seconds = time.perf_counter() - started
        answer = ask_over_http(f"http://127.0.0.1:{port}", question, timeout)
        first_answer = time.perf_counter() - started
        if "answer" not in answer:
            raise NewsRagError(f"`newsrag serve` answered {answer!r} to /ask")
        return Served(ready_seconds, first_answer, peak_rss(proc.pid), answer)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def ask_over_http(base: str, question: str, timeout: float) -> dict:
    """The `/ask` API as any HTTP client calls it (Gradio's REST form): post the question, read the event stream."""
    body = json.dumps({"data": [question, []]}).encode()
    call = urllib.request.Request(
        f"{base}/gradio_api/call/ask", body, {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(call, timeout=timeout) as response:
        event_id = json.load(response)["event_id"]
    event = ""
    with urllib.request.urlopen(f"{base}/gradio_api/call/ask/{event_id}", timeout=timeout) as stream:
        for raw in stream:
            line = raw.decode().strip()
            if line.startswith("event:"):
                event = line.removeprefix("event:").strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                data = json.loads(line.removeprefix("data:"))
                if event == "error" or not isinstance(data, list) or not isinstance(data[0], dict):
                    raise NewsRagError(f"/ask answered with {event}: {data!r}")
                return data[0]
    raise NewsRagError("/ask closed its event stream without an answer")


def peak_rss(pid: int) -> int:
    """VmHWM (the peak resident set) of a running process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise NewsRagError(f"no VmHWM in /proc/{pid}/status")
