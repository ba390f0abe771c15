"""Presentation: the HTML report, its charts, the Excel workbook and the configuration reference.

May import ``transforms`` and ``transforms.io``; never ``flows`` or Prefect.
"""
