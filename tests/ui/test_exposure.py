"""`newsrag serve` beyond this machine: refused without a password unless --no-auth says it is meant.

A refused serve must not get as far as binding a port, so the refusals are also run as a real
process; the accepted ones are run against a port the test holds, where the server's own port
check (on 127.0.0.1, before it binds the host) stops them: nothing is ever bound beyond loopback.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from gradio_client import Client
from local_http import http
from sample_data import SEED_QUESTION

from newsrag.ui.cli import Context, cli, exposure, is_loopback

NEWSRAG = Path(sys.executable).with_name("newsrag")
PS_WARNING = "Warning: a password given with --auth shows in `ps` to every user of this machine"
REFUSAL = "Error: refusing to serve without a password: "


@pytest.fixture
def newsrag(tmp_path, monkeypatch, embedder):
    """Invoke the CLI in-process from an empty folder, with no NEWSRAG_* variables but those given.

    The commands share the session's embedder (the same bundled model) instead of loading their own.
    """
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(Context, "embedder", property(lambda self: embedder))
    for key in [k for k in os.environ if k.startswith("NEWSRAG_")]:
        monkeypatch.delenv(key)

    def run(*args: str, env: dict[str, str] | None = None):
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)

    return run


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port this test listens on at 127.0.0.1, so a serve that gets as far as launching stops there."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.8.9.10", "localhost", "LocalHost", "::1", "[::1]", " 127.0.0.1 "]
)
def test_loopback_hosts_are_not_exposed(host):
    assert is_loopback(host) and exposure(host, share=False) is None


@pytest.mark.parametrize(
    "host",
    [
        "0.0.0.0",
        "::",
        "[::]",
        "",
        "10.0.0.5",
        "192.168.1.20",
        "128.0.0.1",
        "fe80::1",
        "myhost",
        "localhost.evil.example",
    ],
)
def test_every_other_host_and_share_are_exposed(host):
    assert not is_loopback(host)
    assert exposure(host, share=False) == f"--host {host!r} lets other machines connect to it"
    assert "gradio.live" in exposure("127.0.0.1", share=True)


@pytest.mark.parametrize(
    "args",
    [
        ["--host", "0.0.0.0"],
        ["--host", "::"],
        ["--host", "10.0.0.5", "--port", "8000"],
        ["--share"],
        ["--host", "localhost", "--share"],
    ],
)
def test_an_exposed_serve_without_a_password_is_refused_in_one_line(newsrag, tmp_path, args):
    index_dir = tmp_path / "no-index-yet"
    result = newsrag("--index-dir", str(index_dir), "serve", *args)
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(REFUSAL)
    assert "set NEWSRAG_AUTH=USER:PASSWORD (or give --auth), or --no-auth to mean it" in line
    assert result.stdout == ""
    assert not index_dir.exists()  # refused before anything was built, let alone served


def test_contradictory_or_malformed_auth_is_refused(newsrag, tmp_path):
    index_dir = str(tmp_path / "none")
    both = newsrag("--index-dir", index_dir, "serve", "--auth", "ann:pw", "--no-auth")
    assert both.exit_code == 2
    assert both.stderr.splitlines() == [
        "Error: --no-auth asks for no password but --auth sets one; drop one of them"
    ]
    from_env = newsrag("--index-dir", index_dir, "serve", "--no-auth", env={"NEWSRAG_AUTH": "ann:pw"})
    assert from_env.exit_code == 2 and "but NEWSRAG_AUTH sets one" in from_env.stderr
    for bad in ("ann", "ann:", ":pw"):
        result = newsrag("--index-dir", index_dir, "serve", "--host", "0.0.0.0", "--auth", bad)
        assert result.exit_code == 2 and "expected USER:PASSWORD" in result.stderr
    env_bad = newsrag("--index-dir", index_dir, "serve", env={"NEWSRAG_AUTH": "nocolon"})
    assert (
        env_bad.exit_code == 2 and "Invalid value for NEWSRAG_AUTH: expected USER:PASSWORD" in env_bad.stderr
    )
    assert not (tmp_path / "none").exists()


def test_exposed_with_a_password_or_no_auth_gets_as_far_as_the_port(newsrag, small_index, held_port):
    index = ["--index-dir", str(small_index.index_dir)]
    in_use = f"Error: cannot serve on 0.0.0.0:{held_port}: port {held_port} is in use; pick another --port"
    exposed = ["--host", "0.0.0.0", "--port", str(held_port)]

    on_command_line = newsrag(*index, "serve", *exposed, "--auth", "ann:pw")
    assert on_command_line.exit_code == 1
    assert on_command_line.stderr.splitlines() == [
        f"{PS_WARNING}; set NEWSRAG_AUTH=USER:PASSWORD instead.",
        in_use,
    ]

    from_env = newsrag(*index, "serve", *exposed, env={"NEWSRAG_AUTH": "ann:pw"})
    assert from_env.exit_code == 1 and from_env.stderr.splitlines() == [in_use]

    open_on_purpose = newsrag(*index, "serve", *exposed, "--no-auth")
    assert open_on_purpose.exit_code == 1
    assert open_on_purpose.stderr.splitlines() == [
        "Warning: serving without a password: --host '0.0.0.0' lets other machines connect to it.",
        in_use,
    ]


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSRAG_", "GRADIO_"))}
    return {**env, **extra}


def test_a_refused_serve_process_exits_without_binding_a_port(tmp_path):
    port = free_port()
    index_dir = tmp_path / "index"
    started = time.monotonic()
    proc = subprocess.Popen(
        [str(NEWSRAG), "serve", "--host", "0.0.0.0", "--port", str(port)],
        cwd=tmp_path,
        env=clean_env(NEWSRAG_INDEX_DIR=str(index_dir)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while proc.poll() is None:
            assert not listening(port), "a refused serve bound its port"
            assert time.monotonic() - started < 60
            time.sleep(0.05)
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 2
    assert out == "" and len(err.splitlines()) == 1 and err.startswith(REFUSAL + "--host '0.0.0.0'")
    assert not listening(port) and not index_dir.exists()


@pytest.mark.slow
def test_a_served_password_keeps_out_who_lacks_it(small_index, tmp_path):
    """A real `newsrag serve` on 127.0.0.1 with NEWSRAG_AUTH: no page, no API without the password."""
    port = free_port()
    proc = subprocess.Popen(
        [str(NEWSRAG), "serve", "--port", str(port)],
        cwd=tmp_path,
        env=clean_env(NEWSRAG_INDEX_DIR=str(small_index.index_dir), NEWSRAG_AUTH="ann:s3cret-pw"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready = proc.stdout.readline()  # the ready line, or nothing when it died
        assert re.fullmatch(
            rf"NewsRAG is ready at http://127\.0\.0\.1:{port}/ \(Ctrl-C to stop\)\n", ready
        ), ready + proc.stderr.read() if proc.poll() is not None else ready
        url = f"http://127.0.0.1:{port}/"
        assert "s3cret-pw" not in ready
        for route in ("config", "gradio_api/info"):  # what the page and the clients read first
            assert http(url + route) == (401, '{"detail":{"error":"Not authenticated","auth_message":null}}')
        form = b'--b\r\nContent-Disposition: form-data; name="files"; filename="a.txt"\r\n\r\nx\r\n--b--\r\n'
        upload = http(url + "gradio_api/upload", form, {"Content-Type": "multipart/form-data; boundary=b"})
        assert upload[0] == 401  # no upload lands without the password
        with pytest.raises(Exception, match="(?i)auth|login|401|403|credentials"):
            Client(url, verbose=False).predict(SEED_QUESTION, [], api_name="/ask")
        with pytest.raises(Exception, match="(?i)auth|login|401|403|credentials|incorrect"):
            Client(url, auth=("ann", "wrong"), verbose=False)
        reply = Client(url, auth=("ann", "s3cret-pw"), verbose=False).predict(
            SEED_QUESTION, [], api_name="/ask"
        )
        assert reply["refused"] is False and "700" in reply["answer"]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
