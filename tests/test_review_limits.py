"""Request bodies against a real ``callqa serve`` process: the session is checked before a body is
read, bodies are capped, and the server's memory does not follow what a stranger sends (issue 15,
point 6)."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from tests.review_fixtures import build_review_db, csrf_from, login, server_process

MIB = 1024 * 1024
TEN_MB = 10 * MIB


def _status(pid: int, field: str) -> int:
    """A memory figure of a process from /proc (bytes)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def _announce_and_send_part(base: str, path: str, cookie: str = "", part: int = 64 * 1024) -> bytes:
    """Announce a 10 MB form post, send only ``part`` bytes of it, and return whatever the server
    answers meanwhile: a server that waited for the body would answer nothing."""
    host, port = base.removeprefix("http://").split(":")
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/html\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {TEN_MB}\r\n"
        + (f"Cookie: {cookie}\r\n" if cookie else "")
        + "\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head + b"a" * part)
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    return reply


def _chunks(total: int, size: int = 256 * 1024):
    sent = 0
    while sent < total:
        yield b"overall_comment=" if sent == 0 else b"b" * size
        sent += size


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    fx = build_review_db(tmp_path_factory.mktemp("limits"))
    with server_process(fx.db) as (base, process):
        yield fx, base, process


def test_unauthenticated_10mb_post_is_refused_before_its_body_is_read(served):
    fx, base, process = served
    call = fx.calls["flagged"]
    with httpx.Client(base_url=base) as warm:  # first requests load templates and code
        for _ in range(3):
            warm.get("/login")
            warm.post(f"/calls/{call}/review", data={"csrf_token": "x"})
    peak_before, rss_before = _status(process.pid, "VmHWM"), _status(process.pid, "VmRSS")

    # 64 KB of an announced 10 MB sent: the refusal comes without waiting for the rest
    reply = _announce_and_send_part(base, f"/calls/{call}/review")
    assert reply.startswith(b"HTTP/1.1 303") and b"location: /login" in reply.lower(), reply[:300]
    reply = _announce_and_send_part(base, "/admin/users")
    assert reply.startswith(b"HTTP/1.1 303"), reply[:200]
    # a forged (unsigned) cookie is no session either
    reply = _announce_and_send_part(base, f"/calls/{call}/review", cookie="callqa_session=forged")
    assert reply.startswith(b"HTTP/1.1 303"), reply[:200]

    # the whole 10 MB, with a length and without one (chunked): refused, nothing kept
    with httpx.Client(base_url=base, timeout=30) as stranger:
        for content in (b"overall_comment=" + b"c" * TEN_MB, _chunks(TEN_MB)):
            try:
                response = stranger.post(f"/calls/{call}/review", content=content)
                assert response.status_code == 401
            except httpx.TransportError:
                pass  # the server may close the connection on a body it does not want
        # the login form is the one post without a session: its body is capped small
        response = stranger.post("/login", content=b"username=" + b"d" * TEN_MB)
        assert response.status_code == 413
    grown_peak = _status(process.pid, "VmHWM") - peak_before
    grown_rss = _status(process.pid, "VmRSS") - rss_before
    print(
        f"\nserver memory after 10 MB posts: peak +{grown_peak / MIB:.1f} MiB, rss +{grown_rss / MIB:.1f} MiB"
    )
    assert grown_peak < 10 * MIB and grown_rss < 10 * MIB
    assert fx.query("SELECT count(*) FROM reviews")[0][0] == 0


def test_logged_in_oversized_post_gets_a_message_and_memory_stays_flat(served):
    fx, base, process = served
    call = fx.calls["low"]
    with httpx.Client(base_url=base, timeout=30) as sue:
        assert login(sue, "sue").status_code == 303
        csrf = csrf_from(sue.get("/queue").text)
        assert sue.post(f"/calls/{call}/claim", data={"csrf_token": csrf}).status_code == 303
        peak_before = _status(process.pid, "VmHWM")
        cookie = "callqa_session=" + sue.cookies["callqa_session"]
        reply = _announce_and_send_part(base, f"/calls/{call}/review", cookie=cookie)
        assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
        try:  # no length announced: cut at the cap
            response = sue.post(
                f"/calls/{call}/review", content=_chunks(TEN_MB),
                headers={"accept": "text/html", "content-type": "application/x-www-form-urlencoded"},
            )  # fmt: skip
            assert response.status_code == 413 and "larger than 2 MB" in response.text
        except httpx.TransportError:
            pass
        assert _status(process.pid, "VmHWM") - peak_before < 10 * MIB
        # the session still works, and nothing was saved
        assert sue.get(f"/calls/{call}").status_code == 200
    assert fx.query("SELECT count(*) FROM reviews WHERE call_id = ?", [call])[0][0] == 0
