"""Exercises of the course (see helpers.checks.exercises): filled in by the topic owner."""
EXERCISES: tuple = ()
