"""Where each network lives: one REST base URL, one public (linear) WebSocket URL and one private
WebSocket URL (docs/bybit.md#endpoints-per-network).

Demo trading is the odd one: its REST host and private stream are Bybit's demo hosts, but demo has no
public market data of its own, so the public stream comes from mainnet.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from whale.errors import BadInputError


@dataclass(frozen=True)
class Endpoints:
    network: str
    rest_url: str
    public_ws_url: str
    private_ws_url: str

    @property
    def rest_host(self) -> str:
        return host_of(self.rest_url)

    @property
    def public_ws_host(self) -> str:
        return host_of(self.public_ws_url)

    @property
    def private_ws_host(self) -> str:
        return host_of(self.private_ws_url)


NETWORK_ENDPOINTS: dict[str, Endpoints] = {
    "mainnet": Endpoints("mainnet", "https://api.bybit.com", "wss://stream.bybit.com/v5/public/linear",
                         "wss://stream.bybit.com/v5/private"),
    "testnet": Endpoints("testnet", "https://api-testnet.bybit.com", "wss://stream-testnet.bybit.com/v5/public/linear",
                         "wss://stream-testnet.bybit.com/v5/private"),
    "demo-trading": Endpoints("demo-trading", "https://api-demo.bybit.com", "wss://stream.bybit.com/v5/public/linear",
                              "wss://stream-demo.bybit.com/v5/private"),
}

_SCHEMES = {"rest_url": ("http", "https"), "public_ws_url": ("ws", "wss"), "private_ws_url": ("ws", "wss")}


def host_of(url: str) -> str:
    """`host` or `host:port` of a URL (what messages name); the URL itself if it has no host."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return url
    if not host:
        return url
    return f"{host}:{port}" if port else host


def endpoints_for_network(network: str, rest_url: str = "", public_ws_url: str = "",
                          private_ws_url: str = "") -> Endpoints:
    """The URLs of `network`; `custom` takes the three URLs given (each must be set, with its scheme)."""
    if network in NETWORK_ENDPOINTS:
        return NETWORK_ENDPOINTS[network]
    if network != "custom":
        raise BadInputError(f"network {network!r}: expected mainnet, testnet, demo-trading or custom")
    urls = {"rest_url": rest_url.strip(), "public_ws_url": public_ws_url.strip(),
            "private_ws_url": private_ws_url.strip()}
    for key, url in urls.items():
        if not url:
            raise BadInputError(f'{key}: required with network "custom"')
        scheme = urlsplit(url).scheme
        if scheme not in _SCHEMES[key] or not urlsplit(url).hostname:
            raise BadInputError(f"{key} {url!r}: expected a {'/'.join(_SCHEMES[key])}:// URL with a host")
    return Endpoints("custom", urls["rest_url"].rstrip("/"), urls["public_ws_url"], urls["private_ws_url"])


def endpoints_for(cfg) -> Endpoints:
    """The endpoints of a `Config` (its `exchange` block), or of anything with `network`, `rest_url`,
    `public_ws_url`, `private_ws_url` (an `Exchange`)."""
    ex = getattr(cfg, "exchange", cfg)
    return endpoints_for_network(ex.network, getattr(ex, "rest_url", "") or "",
                                 getattr(ex, "public_ws_url", "") or "", getattr(ex, "private_ws_url", "") or "")


def custom_endpoints(rest_url: str, public_ws_url: str = "", private_ws_url: str = "") -> Endpoints:
    """Endpoints for a REST URL alone (e.g. `download --rest-url`): the stream URLs default to the
    same host's Bybit paths (`/v5/public/linear`, `/v5/private`), as the simulator serves them."""
    rest = rest_url.strip().rstrip("/")
    parts = urlsplit(rest)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadInputError(f"REST URL {rest_url!r}: expected an http(s):// URL with a host")
    ws_scheme = "wss" if parts.scheme == "https" else "ws"
    base = f"{ws_scheme}://{parts.netloc}"
    return endpoints_for_network("custom", rest, public_ws_url or f"{base}/v5/public/linear",
                                 private_ws_url or f"{base}/v5/private")
