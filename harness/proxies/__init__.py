"""Proxies: cheap signals that score cells. One registry (`register_proxy`), listable and extensible by plugins
(entry-point group `nb201_harness.proxies`); `scoring.score_cells` runs one into a resumable score file."""
from harness.proxies.registry import NEEDS, Proxy, ProxyContext, Setting, get_proxy, list_proxies, register_proxy

__all__ = ["NEEDS", "Proxy", "ProxyContext", "Setting", "get_proxy", "list_proxies", "register_proxy"]
