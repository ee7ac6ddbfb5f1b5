"""Results files: metrics.json, report.md, the terminal table and PNG plots."""

from semcom.report.markdown import write_report
from semcom.report.plots import all_plots
from semcom.report.results import package_versions, read_metrics, write_metrics
from semcom.report.tables import markdown_table, rich_table, summary_rows

__all__ = [
    "all_plots",
    "markdown_table",
    "package_versions",
    "read_metrics",
    "rich_table",
    "summary_rows",
    "write_metrics",
    "write_report",
]
