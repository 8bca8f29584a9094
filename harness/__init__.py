"""nb201-harness: how well does a cheap signal rank NAS-Bench-201 architectures?"""

__version__ = "0.1.0"
