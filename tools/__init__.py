"""Build tooling beside the course library: the report (:mod:`tools.report`), notebook execution and
refresh, and the editions (student versions). ``tools`` imports :mod:`helpers`; never the reverse."""
