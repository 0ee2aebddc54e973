"""``fetch_image`` against real HTTP servers on loopback: the allow-list on every hop, blocked
link-local and metadata addresses (also IPv4-mapped), size and time caps."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from edge.config.settings import UrlFetchConfig
from edge.errors import PayloadTooLarge, UrlFetchError
from edge.http.url_fetch import AllowList, _PinnedResolver, fetch_image
from tests.support.in_process import ImageSite

IMAGE = b"\xff\xd8\xff" + b"pretend-jpeg" * 100 + b"\xff\xd9"


@pytest.fixture(scope="module")
def site() -> Iterator[ImageSite]:
    s = ImageSite(IMAGE, big_bytes=300_000)
    yield s
    s.close()


@pytest.mark.parametrize("entries,host,address,allowed", [
    (["127.0.0.1"], "127.0.0.1", "127.0.0.1", True),
    (["127.0.0.1"], "127.0.0.2", "127.0.0.2", False),
    (["10.0.0.0/8"], "cam.lan", "10.1.2.3", True),
    (["cam.lan"], "CAM.LAN.", "192.168.1.9", True),  # names: exact, case-insensitive, trailing dot
    (["cam.lan"], "other.lan", "192.168.1.9", False),
    (["169.254.169.254"], "169.254.169.254", "169.254.169.254", False),  # metadata: never, even listed
    (["0.0.0.0/0"], "x", "169.254.1.1", False),  # link-local: never
    (["::/0"], "x", "::ffff:169.254.169.254", False),  # IPv4-mapped metadata is unwrapped
    (["::/0"], "x", "fe80::1%eth0", False),
    (["::/0"], "x", "fd00:ec2::254", False),
    (["0.0.0.0/0"], "x", "100.100.100.200", False),
])
def test_allow_list(entries: list[str], host: str, address: str, allowed: bool) -> None:
    assert AllowList(entries).address_allowed(host, address) is allowed


async def test_pinned_resolver_refuses_other_hosts() -> None:
    resolver = _PinnedResolver("a.lan", [{"hostname": "a.lan", "host": "10.0.0.1", "port": 80, "family": 2,
                                          "proto": 0, "flags": 0}])
    assert (await resolver.resolve("a.lan", 8080))[0]["port"] == 8080
    with pytest.raises(OSError):
        await resolver.resolve("b.lan", 80)


def config(**kw: object) -> UrlFetchConfig:
    return UrlFetchConfig(**{"allow": ["127.0.0.1"], "timeout_s": 1.0, "max_mb": 0.25, **kw})  # type: ignore[arg-type]


async def test_fetch_good_and_redirect_on_list(site: ImageSite) -> None:
    assert await fetch_image(site.url("/good.jpg"), config()) == IMAGE
    assert await fetch_image(site.url("/redirect?to=/good.jpg"), config()) == IMAGE


@pytest.mark.parametrize("path,error,fragment", [
    ("/redirect?to=http://127.0.0.2:{port}/good.jpg", UrlFetchError, "127.0.0.2"),
    ("/redirect?to=http://169.254.169.254/latest/meta-data/", UrlFetchError, "not in url_fetch.allow"),
    ("/redirect?to=/redirect?to=/redirect?to=/redirect?to=/good.jpg", UrlFetchError, "more than 3 redirects"),
    ("/big.jpg", PayloadTooLarge, "the limit is 262144 bytes"),
    ("/missing", UrlFetchError, "answered 404"),
])
async def test_fetch_refused(site: ImageSite, path: str, error: type[Exception], fragment: str) -> None:
    with pytest.raises(error, match=re.escape(fragment)):
        await fetch_image(site.url(path.format(port=site.port)), config())


async def test_never_answers_times_out(site: ImageSite) -> None:
    with pytest.raises(UrlFetchError, match="no complete answer within 1 s"):
        await fetch_image(site.silent_url, config())


@pytest.mark.parametrize("url,fragment", [
    ("ftp://127.0.0.1/x.jpg", "not an http(s) URL"),
    ("http://127.0.0.1:99999/x.jpg", "not a valid URL"),
    ("http://[::1/x.jpg", "not a valid URL"),
    ("http://" + "a" * 300 + "/x.jpg", "host"),
])
async def test_bad_urls(url: str, fragment: str) -> None:
    with pytest.raises(UrlFetchError, match=re.escape(fragment)):
        await fetch_image(url, config())


async def test_off_when_allow_list_empty() -> None:
    with pytest.raises(UrlFetchError, match="off on this device"):
        await fetch_image("http://127.0.0.1/x.jpg", config(allow=[]))
