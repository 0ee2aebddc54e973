"""Fetch an image from a URL a client names, only from hosts the owner allowed.

Every hop resolves the host, checks every address against the allow-list, and then connects to
exactly the address it checked (no second DNS lookup an attacker could change). Link-local and
cloud-metadata addresses are refused even when listed. Redirects are followed only to allowed hosts,
at most ``MAX_REDIRECTS`` times; size and total time are capped.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver

from edge.config.settings import UrlFetchConfig
from edge.errors import PayloadTooLarge, UrlFetchError

MAX_REDIRECTS = 3
ALWAYS_BLOCKED = [ipaddress.ip_network(n) for n in ("169.254.0.0/16", "fe80::/10", "100.100.100.200/32", "fd00:ec2::254/128")]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class AllowList:
    """Host names (exact, case-insensitive) and IP networks that ``url`` may reach."""

    def __init__(self, entries: list[str]) -> None:
        self.names: set[str] = set()
        self.networks: list[IPNetwork] = []
        for entry in entries:
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.names.add(entry.lower().rstrip("."))

    def __bool__(self) -> bool:
        return bool(self.names or self.networks)

    def address_allowed(self, host: str, address: str) -> bool:
        ip = ipaddress.ip_address(address.split("%")[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # ::ffff:169.254.169.254 is 169.254.169.254
        if any(ip in net for net in ALWAYS_BLOCKED):
            return False
        return host.lower().rstrip(".") in self.names or any(ip in net for net in self.networks)


class _PinnedResolver(AbstractResolver):
    """Answers only with the addresses we already checked."""

    def __init__(self, host: str, infos: list[dict[str, Any]]) -> None:
        self.host, self.infos = host, infos

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[dict[str, Any]]:
        if host != self.host:
            raise OSError(f"unexpected host {host}")
        return [dict(info, port=port) for info in self.infos]

    async def close(self) -> None:
        return None


async def _resolve_checked(allow: AllowList, host: str, port: int) -> list[dict[str, Any]]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UrlFetchError(f"url: cannot resolve host {host[:40]!r}: {exc.strerror}") from None
    except (UnicodeError, ValueError):
        raise UrlFetchError(f"url: {host[:100]!r} is not a valid host name") from None
    addresses = sorted({str(info[4][0]) for info in infos})
    refused = [a for a in addresses if not allow.address_allowed(host, a)]
    if refused:
        raise UrlFetchError(f"url: host {host!r} ({', '.join(refused)}) is not in url_fetch.allow")
    return [{"hostname": host, "host": info[4][0], "port": port, "family": info[0], "proto": 0,
             "flags": socket.AI_NUMERICHOST} for info in infos]


async def fetch_image(url: str, config: UrlFetchConfig) -> bytes:
    """Download ``url`` within the configured limits; raises UrlFetchError / PayloadTooLarge."""
    allow = AllowList(config.allow)
    if not allow:
        raise UrlFetchError("url: fetching images by URL is off on this device (url_fetch.allow is empty); "
                            "upload the image as the 'image' file instead")
    limit = int(config.max_mb * 1024 * 1024)
    try:
        async with asyncio.timeout(config.timeout_s):
            for _ in range(MAX_REDIRECTS + 1):
                try:
                    parts = urlsplit(url)
                    port = parts.port or (443 if parts.scheme == "https" else 80)
                except ValueError:  # a port out of range, a bad [IPv6] literal
                    raise UrlFetchError(f"url: {url[:200]!r} is not a valid URL") from None
                if parts.scheme not in ("http", "https") or not parts.hostname:
                    raise UrlFetchError(f"url: {url[:200]!r} is not an http(s) URL")
                infos = await _resolve_checked(allow, parts.hostname, port)
                connector = aiohttp.TCPConnector(resolver=_PinnedResolver(parts.hostname, infos), use_dns_cache=False)
                async with aiohttp.ClientSession(connector=connector) as session:
                    async with session.get(url, allow_redirects=False) as response:
                        if response.status in (301, 302, 303, 307, 308) and "Location" in response.headers:
                            url = urljoin(url, response.headers["Location"])
                            continue  # the next hop is checked against the allow-list like the first
                        if response.status != 200:
                            raise UrlFetchError(f"url: the server answered {response.status} {response.reason}")
                        if response.content_length is not None and response.content_length > limit:
                            raise PayloadTooLarge(f"url: the image is {response.content_length} bytes; "
                                                  f"the limit is {limit} bytes")
                        body = bytearray()
                        async for chunk in response.content.iter_chunked(65536):
                            body += chunk
                            if len(body) > limit:
                                raise PayloadTooLarge(f"url: the image exceeds the limit of {limit} bytes")
                        return bytes(body)
            raise UrlFetchError(f"url: more than {MAX_REDIRECTS} redirects")
    except TimeoutError:
        raise UrlFetchError(f"url: no complete answer within {config.timeout_s:g} s") from None
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        raise UrlFetchError(f"url: fetch failed: {str(exc)[:200]}") from None
