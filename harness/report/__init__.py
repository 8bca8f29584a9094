"""Reports: markdown and HTML with matplotlib figures, from an `Evaluation`."""
from harness.report.evaluation_report import write_report

__all__ = ["write_report"]
