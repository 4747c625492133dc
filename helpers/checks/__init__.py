"""Graders built on the one gradient-check policy of :mod:`helpers.gradcheck`: the layer checks of
notebook 02, the delta-rule grader of notebook 03, and the INF265 course's own test procedure for
``backpropagation`` (both in :mod:`.nb03_delta_rule`)."""
