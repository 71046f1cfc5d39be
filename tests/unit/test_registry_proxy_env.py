"""Which proxy a registry request goes through, from the environment as Docker (Go's
``httpproxy``) reads it; and the HTTP/1.1 client's URL and host splitting. Pure functions."""

from __future__ import annotations

import base64

import pytest

from pytest_imagesize.sources.model import SourceError
from pytest_imagesize.sources.registry.transport import proxy_for, split_netloc, split_url


def via(scheme: str, host: str, port: int = 443, **environ: str) -> str | None:
    proxy = proxy_for(scheme, host, port, environ)
    return None if proxy is None else f"{proxy.host}:{proxy.port}"


def test_the_scheme_picks_the_variable_upper_case_first() -> None:
    env = {"HTTPS_PROXY": "http://secure:3128", "https_proxy": "lower:1", "HTTP_PROXY": "plain:8080"}
    assert via("https", "registry.example", 443, **env) == "secure:3128"
    assert via("http", "registry.example", 80, **env) == "plain:8080"
    assert via("https", "registry.example", https_proxy="lower:1") == "lower:1"
    assert via("https", "registry.example") is None
    assert via("https", "registry.example", HTTPS_PROXY="proxy") == "proxy:80"


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.8.9.10", "::1", "[::1]", "app.localhost"])
def test_loopback_is_never_proxied(host: str) -> None:
    assert via("https", host, HTTPS_PROXY="proxy:3128") is None


@pytest.mark.parametrize(
    ("no_proxy", "host", "port", "direct"),
    [
        ("*", "anything.example", 443, True),
        ("example.com", "example.com", 443, True),
        ("example.com", "registry.example.com", 443, True),
        ("example.com", "notexample.com", 443, False),
        (".example.com", "registry.example.com", 443, True),
        (".example.com", "example.com", 443, True),
        ("*.example.com", "registry.example.com", 443, True),
        ("example.com:5000", "example.com", 5000, True),
        ("example.com:5000", "example.com", 443, False),
        ("10.0.0.0/8, other", "10.1.2.3", 443, True),
        ("10.0.0.0/8", "11.1.2.3", 443, False),
        ("192.0.2.7", "192.0.2.7", 443, True),
        ("192.0.2.7", "192.0.2.8", 443, False),
        ("[2001:db8::1]:443", "2001:db8::1", 443, True),
        (" , ,", "example.com", 443, False),
    ],
)
def test_no_proxy_matches_as_docker_does(no_proxy: str, host: str, port: int, direct: bool) -> None:
    found = via("https", host, port, HTTPS_PROXY="proxy:3128", NO_PROXY=no_proxy)
    assert (found is None) is direct
    assert (via("https", host, port, HTTPS_PROXY="proxy:3128", no_proxy=no_proxy) is None) is direct


def test_the_proxys_login_becomes_proxy_authorization() -> None:
    proxy = proxy_for("https", "r.example", 443, {"HTTPS_PROXY": "http://us%40er:p%3Ass@proxy:3128"})
    assert proxy is not None and proxy.authorization == "Basic " + base64.b64encode(b"us@er:p:ss").decode()


@pytest.mark.parametrize("value", ["https://proxy:3128", "socks5://proxy:1080"])
def test_a_proxy_that_is_not_http_is_one_line(value: str) -> None:
    with pytest.raises(SourceError, match=r"^HTTPS_PROXY: only an http:// proxy \(host:port\) is supported"):
        proxy_for("https", "r.example", 443, {"HTTPS_PROXY": value})


def test_urls_and_hosts_split_as_requests_need_them() -> None:
    assert split_url("HTTP://h:5000/v2/app/manifests/1?n=1#x") == (
        "http",
        "h:5000",
        "/v2/app/manifests/1?n=1",
    )
    assert split_url("https://auth.example?service=r") == ("https", "auth.example", "/?service=r")
    assert split_url("https://h") == ("https", "h", "/")
    assert split_netloc("https", "Registry.Example") == ("registry.example", 443)
    assert split_netloc("http", "h:5000") == ("h", 5000)
    assert split_netloc("http", "[::1]:5000") == ("::1", 5000)
    assert split_netloc("http", "[::1]") == ("::1", 80)
    assert split_netloc("https", "h:99999") == ("h", 443)
