"""backprop-lab helpers: the small library the notebooks import and students read.

The top level holds the lesson modules, one per topic, each read top to bottom: forward beside backward, every
exercise between ``### BEGIN SOLUTION`` / ``### END SOLUTION`` markers with its shapes in the docstring.

* 00 computational graphs: ``scalar_autodiff`` (each primitive's value and local gradients, ``Value``, reverse
  mode, replay and central differences of a graph), ``chain_rule`` (the courses' tables), ``graph_derivations``
  (the handouts' graphs), ``custom_functions`` (autograd Functions).
* 01 spiral: ``spiral`` (``spiral_grad``, ``gradient_descent``); ``gradcheck``, the course's one gradient-check
  policy (closeness and central differences, used by every notebook and every check).
* 02 manual-backprop MLP: ``layers`` (each op's forward and backward, the CSE 849 layer classes, the losses),
  ``mlp`` (the NYU API), ``two_layer_theory`` (the NYU theory questions).
* 03 delta rule: ``mynet`` (``MyNet``, ``backpropagation``, ``manual_sgd_step``).
* 04 CIFAR-10 cat vs car: ``training`` (``MyMLP``, ``train``, ``sgd_step``, ``train_manual_update``, predictions).
* 05 DeepDream: ``dream`` (options, ``normalize_and_jitter``, objectives, ``dream_step``, ``gradient_descent``,
  the classifier probes).

Sub-packages, in the only order imports may point (a module imports from its own layer or earlier):
``runtime`` (seeding, device, headless mode, threads, progress, widgets, validation, report hooks, the editions'
flags) -> ``data`` (paths, checksums, rainfall, CIFAR-10, cat/car, image operations) -> the lesson modules ->
``models`` -> ``checks`` -> ``plots`` -> ``experiments``. ``tests/test_architecture.py`` enforces it.

``checks``: one module per notebook (``nb00_graphs`` ... ``nb05_dream``) holds that notebook's exercises (the
registry entries, :class:`helpers.checks.toolkit.Exercise`), their checks, mistake tables and the references that
stand in for an unfinished exercise in the student edition (:mod:`helpers.checks.stand_ins`). The checks never run
the student's code in the notebook's process: :mod:`helpers.checks.sandbox` starts a sandboxed worker, and each
``nb0X_*_sandbox`` module is the sandbox side of its notebook's checks. :mod:`helpers.checks.exercises` runs them
(``check_exercise("3.1")``).
"""
