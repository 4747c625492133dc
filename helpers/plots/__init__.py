"""Figures: the course style, graph drawings, image grids, maps and classifier figures. Plots draw
what they are given; they never train or evaluate a model."""
