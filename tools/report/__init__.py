"""The report builder: ``python -m tools.report`` executes every notebook and writes ``report/``."""
