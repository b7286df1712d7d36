"""Who may use `svdgan serve`: Host allow-list, same-origin changes, the token through a login cookie,
failed attempts slowed down, security headers and limits. A real server on loopback, and the page in
headless Chromium where a browser's behaviour is what matters."""

import http.server
import threading
import time

import httpx
import pytest

from svdgan.cli import main
from svdgan.serve.access import SESSION_COOKIE, Access, allowed_hosts, host_name, read_token
from svdgan.serve.config import CameraConfig, ServeConfig
from svdgan.serve.engine import Engine
from svdgan.serve.store import EventStore
from svdgan.serve.web import MjpegViewers
from svdgan.sources.video import redact

from .test_serve import TOKEN, camera_model  # noqa: F401 (a fixture)
from .test_serve_live import LiveScene, _chrome, free_port, serving

pytestmark = pytest.mark.usefixtures("backend")  # each test on SQLite and on PostgreSQL


@pytest.fixture
def secured(camera_model, tmp_path):  # noqa: F811
    """A server with a token on a loopback port, one event already recorded."""
    from svdgan.serve.web import create_app

    config = ServeConfig([CameraConfig("lobby", "scene", threshold=1.5, min_frames=2, checkpoint=str(camera_model))],
                         storage=str(tmp_path / "storage"))
    scene = LiveScene("lobby")
    engine = Engine(config, EventStore(tmp_path / "storage"), sources={"lobby": scene})
    engine.store.open("lobby", time.time(), 2.0, 0)
    access = Access(TOKEN, allowed_hosts("127.0.0.1"))
    engine.start()
    with serving(create_app(engine, access=access)) as port:
        yield f"http://127.0.0.1:{port}", engine
        scene.stopped.set()
    engine.stop()


BEARER = {"Authorization": f"Bearer {TOKEN}"}


def test_a_foreign_host_is_refused_and_every_answer_carries_the_security_headers(secured):
    url, _ = secured
    port = url.rsplit(":", 1)[1]
    rebound = httpx.get(f"{url}/api/events", headers={**BEARER, "Host": f"evil.example:{port}"})
    assert rebound.status_code == 421  # DNS rebinding: the page's name now points here
    answer = httpx.get(f"{url}/api/events", headers=BEARER)
    assert answer.status_code == 200
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["x-content-type-options"] == "nosniff" and answer.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors" in rebound.headers["content-security-policy"]  # refusals too
    deadline = time.monotonic() + 20
    while httpx.get(f"{url}/api/cameras/lobby/frame.jpg", headers=BEARER).status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert httpx.get(f"{url}/api/cameras/lobby/frame.jpg", headers=BEARER).headers["cache-control"] == (
        "private, no-store")


def test_a_wrong_token_five_times_is_slowed_down(secured):
    url, _ = secured
    for _ in range(5):
        assert httpx.post(f"{url}/login", data={"token": "wrong-token-wrong-token"}).status_code == 401
    slowed = httpx.post(f"{url}/login", data={"token": TOKEN})  # even the right one must wait now
    assert slowed.status_code == 429 and int(slowed.headers["retry-after"]) >= 1
    assert httpx.get(f"{url}/api/events", headers={"Authorization": "Bearer nope"}).status_code == 429
    time.sleep(int(slowed.headers["retry-after"]) + 0.1)
    ok = httpx.post(f"{url}/login", data={"token": TOKEN})
    assert ok.status_code == 303 and SESSION_COOKIE in ok.cookies


def test_login_sets_an_httponly_strict_cookie_and_no_url_the_page_requests_carries_the_token(secured):
    url, _ = secured
    driver = _chrome()
    try:
        driver.get(url + "/")
        assert driver.current_url.endswith("/login")
        driver.find_element("name", "token").send_keys(TOKEN)
        driver.find_element("css selector", "button[type=submit]").click()
        deadline = time.monotonic() + 30
        while not driver.find_elements("css selector", "canvas.curve[data-points]"):
            assert time.monotonic() < deadline, driver.page_source[:500]
            time.sleep(0.2)
        (cookie,) = [c for c in driver.get_cookies() if c["name"] == SESSION_COOKIE]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert driver.execute_script("return document.cookie") == ""  # out of the page's scripts' reach
        urls = driver.execute_script("return performance.getEntries().map((e) => e.name)") + [driver.current_url]
        assert len(urls) > 3 and not [u for u in urls if TOKEN in u]
    finally:
        driver.quit()


def _attacker_page(target: str) -> tuple[http.server.HTTPServer, str]:
    """A page on another loopback port that posts to the target, as a hostile site would."""
    page = f"""<!doctype html><html><body><script>
fetch("{target}/api/events/1/review", {{method: "POST", mode: "no-cors", credentials: "include",
  headers: {{"Content-Type": "text/plain"}}, body: JSON.stringify({{reviewed: true}})}})
  .finally(() => {{ document.title = "sent"; }});
</script></body></html>""".encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def test_a_cross_origin_post_is_refused_and_a_same_origin_one_works(secured):
    url, engine = secured
    assert httpx.post(f"{url}/api/events/1/review", json={"reviewed": True},
                      headers={**BEARER, "Origin": "http://127.0.0.1:1"}).status_code == 403
    assert not engine.store.get(1).reviewed
    attacker, attacker_url = _attacker_page(url)
    driver = _chrome()
    try:
        driver.get(url + "/login")  # logged in: the hostile page's request would carry the cookie
        driver.find_element("name", "token").send_keys(TOKEN)
        driver.find_element("css selector", "button[type=submit]").click()
        # The click returns before the form is sent: a navigation started now could be replaced by it.
        deadline = time.monotonic() + 20
        while driver.current_url.endswith("/login") or SESSION_COOKIE not in {c["name"] for c in driver.get_cookies()}:
            assert time.monotonic() < deadline, driver.current_url
            time.sleep(0.1)
        driver.get(attacker_url)
        deadline = time.monotonic() + 20
        while driver.title != "sent":
            assert time.monotonic() < deadline, driver.current_url
            time.sleep(0.1)
        time.sleep(0.5)
        assert not engine.store.get(1).reviewed  # refused: another port is another origin
        driver.get(url + "/#/event/1")
        status = driver.execute_async_script("""const done = arguments[arguments.length - 1];
            fetch("/api/events/1/review", {method: "POST", headers: {"Content-Type": "application/json"},
              body: JSON.stringify({reviewed: true})}).then((r) => done(r.status));""")
        assert status == 200 and engine.store.get(1).reviewed
    finally:
        driver.quit()
        attacker.shutdown()


def test_host_names_tokens_and_limits():
    assert host_name("Example.org:8080") == "example.org" and host_name("[::1]:80") == "::1"
    assert allowed_hosts("0.0.0.0", ["cams.example.org"]) >= {"localhost", "127.0.0.1", "::1", "cams.example.org"}
    assert "0.0.0.0" not in allowed_hosts("0.0.0.0") and "192.168.1.5" in allowed_hosts("192.168.1.5")
    access = Access(None)
    assert access.same_origin("POST", {"origin": "http://127.0.0.1:8080"}, "127.0.0.1:8080", "http")
    assert not access.same_origin("POST", {"origin": "http://127.0.0.1:9"}, "127.0.0.1:8080", "http")
    assert not access.same_origin("POST", {"sec-fetch-site": "same-site"}, "127.0.0.1:8080", "http")
    assert not access.same_origin("POST", {"origin": "null"}, "127.0.0.1:8080", "http")
    assert access.same_origin("GET", {"origin": "http://elsewhere"}, "127.0.0.1:8080", "http")  # reads: CORS
    viewers = MjpegViewers(per_camera=2, total=3)
    assert viewers.admit("a") and viewers.admit("a") and not viewers.admit("a")
    assert viewers.admit("b") and not viewers.admit("c")  # the total
    viewers.leave("a")
    assert viewers.admit("c")
    assert redact("rtsp://admin:hunter2@10.0.0.5:554/s1") == "rtsp://admin:***@10.0.0.5:554/s1"
    assert redact("http://tok@cam/x") == "http://***@cam/x" and redact("rtsp://cam/1") == "rtsp://cam/1"


def test_a_token_comes_from_the_environment_or_a_file_never_the_command_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SVDGAN_TOKEN", TOKEN)
    assert read_token() == TOKEN
    (tmp_path / "t").write_text(TOKEN + "-from-file\n")
    assert read_token(tmp_path / "t") == TOKEN + "-from-file"
    monkeypatch.setenv("SVDGAN_TOKEN", "short")
    for args in (["--token", TOKEN], [], ["--token-file", str(tmp_path / "missing")]):
        assert main(["serve", "--port", "1", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and "SVDGAN_TOKEN or pass --token-file" in err[0] and "at least 16 bytes" in err[1]
    assert "Traceback" not in "".join(err) and "cannot read --token-file" in err[2]


def test_a_request_body_too_large_is_refused(secured):
    url, _ = secured
    assert httpx.post(f"{url}/api/events/1/review", content=b"x" * 20000, headers=BEARER).status_code == 413


def test_tls_serves_https_and_its_session_cookie_is_secure(camera_model, tmp_path):  # noqa: F811
    import subprocess

    from svdgan.serve.web import create_app

    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    config = ServeConfig([], storage=str(tmp_path / "storage"))
    engine = Engine(config, EventStore(tmp_path / "storage"))
    app = create_app(engine, access=Access(TOKEN, allowed_hosts("127.0.0.1"), secure=True))
    with serving(app, ssl_certfile=str(tmp_path / "cert.pem"), ssl_keyfile=str(tmp_path / "key.pem")) as port:
        login = httpx.post(f"https://127.0.0.1:{port}/login", data={"token": TOKEN}, verify=False)
    cookie = login.headers["set-cookie"].lower()
    assert login.status_code == 303 and "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie
