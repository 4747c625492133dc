"""Graders built on the one gradient-check policy of :mod:`helpers.gradcheck`: the layer checks of
notebook 02 and the delta-rule grader of notebook 03."""
