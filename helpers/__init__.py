"""backprop-lab helpers: one small module per idea, imported by the notebooks and the tests.

Foundation (every notebook): ``paths``, ``seeding``, ``device``, ``headless``, ``progress``,
``plotting``, ``widgets``, ``artifacts``, ``gradcheck``. Data: ``cifar``.
Import the module you need, e.g. ``from helpers.spiral import spiral``.
"""
