"""Which edition this copy of the helpers is: the instructor's, which shows answers, or a student's.

``python -m tools.editions`` writes this file anew in a student copy, with ``SHOWS_ANSWERS = False``, so code that
would print or draw an answer (a formula that is an exercise's solution) can leave it out there.
"""
SHOWS_ANSWERS = True
