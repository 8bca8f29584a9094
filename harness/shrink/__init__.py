"""Search-space shrinking driven by proxies (above the proxies and the trainer, below reports and the CLI)."""
from harness.shrink.abs_shrinking import ShrinkSettings, allowed_lists, shrink_abs

__all__ = ["ShrinkSettings", "allowed_lists", "shrink_abs"]
