"""HTML dissection report: unit galleries with drawn regions, plots, layer and concept pages, comparisons.

``build_report(DIR)`` renders ``DIR/index.html`` from ``DIR/results.json``;
``compare_report([DIR1, DIR2, ...], OUT)`` renders ``OUT/index.html`` comparing dissections.
"""

from ganscope.report.build import build_report, compare_report

__all__ = ["build_report", "compare_report"]
