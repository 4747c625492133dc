"""Shared test setup: a non-interactive matplotlib backend and float64 helpers."""
import matplotlib

matplotlib.use("Agg")
