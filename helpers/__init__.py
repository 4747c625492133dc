"""backprop-lab helpers: the small library the notebooks import and students read.

The top level holds the lesson modules, the code a student reads or implements; support code lives in
sub-packages by role. Each exercise is a solution block in a lesson module (or a notebook cell), checked by
``checks.exercises.check_exercise("<id>")``; while it is a stub, a reference computed another way stands in
(the ``*_references`` modules). Map, notebook by notebook (module to read or implement -> how it is checked):

* 00 computational graphs: ``scalar_primitives`` (each primitive's local gradients), ``scalar_autodiff``
  (``Value``, reverse mode), ``chain_rule`` (the course's tables), ``custom_functions`` (autograd
  Functions), ``graph_derivations`` (the handouts' graphs and their derivations), ``walkthrough`` (the
  passes step by step; drawn and stepped by ``plots.walkthrough`` and ``plots.walkthrough_widget``) ->
  ``chain_rule.compare_with_closed_form``, ``checks.derivation_checks``, ``torch.autograd.gradcheck``;
  exercises 0.1-0.11 in ``checks.exercises_scalar`` (engine, notebook tasks, Functions); ``replay`` and
  central differences of a graph in ``scalar_numerics``.
* 01 spiral: ``spiral`` (``spiral_grad``, ``gradient_descent``) -> ``gradcheck`` (autograd, central
  differences), exercises 1.1-1.2 in ``checks.exercises_spiral``; the step-size sweep in
  ``experiments.spiral_sweep``.
* 02 manual-backprop MLP: ``functional`` (each op's forward and backward), ``layers`` (CSE 849 layer
  classes; their base in ``layer_base``, the losses in ``losses``), ``mlp`` (the NYU API),
  ``two_layer_theory`` and ``linear_vs_nonlinear`` (NYU theory) -> ``checks.layer_checks``; training in
  ``experiments.rainfall_fit`` (``q2_ytest.txt`` through ``data.results``), dead units in
  ``experiments.dead_units``; exercises 2.1-2.7 in ``checks.exercises_backprop`` and ``checks.exercises_nyu``
  (references in ``backprop_references``); the layer walkthrough in ``layer_walkthrough`` (``layer_trace``
  adapts a network), drawn by ``plots.layer_walkthrough``.
* 03 delta rule: ``mynet`` (``MyNet``, ``backpropagation``, ``manual_sgd_step``) ->
  ``checks.delta_rule_grader``, ``checks.inf265_procedure`` (the course's own tests), ``gradcheck``,
  exercises 3.1-3.2 in ``checks.exercises_delta_rule``; delta norms and training in ``experiments.delta_norms``.
* 04 CIFAR-10 cat vs car: ``training`` (``MyMLP``, ``train`` and its ``training_step``, ``sgd_step``,
  ``train_manual_update``; settings checks in ``training_settings``, ``predict``/``accuracy`` in
  ``predictions``) -> ``training.compare_with_torch_sgd`` (bit for bit), exercises 4.1-4.4 in
  ``checks.exercises_training`` and ``checks.exercises_sgd`` (references for 03-04 in ``training_references``); data in ``data.catcar``, the sweep and the
  evaluation in ``experiments.catcar_sweep`` and ``experiments.catcar_eval``, the augmentation/cosine
  ablation in ``experiments.catcar_extension``, the report answers in ``experiments.catcar_answers``.
* 05 DeepDream: ``dream`` (``normalize_and_jitter``, ``dream_step``, ``gradient_descent``,
  ``channel_objective``, ``forward_and_return_activation``; options and the run plan in ``dream_options``;
  the checks' references in ``dream_references``, instructor edition only), ``classifier_probes`` ->
  exercises 5.1-5.3 in ``checks.exercises_dream`` and ``checks.exercises_dream_loop`` (expected values:
  ``checks.dream_expected``), ``tests/test_dream.py``,
  ``tests/test_dream_course.py``; the CNNs in ``models.cnn`` and
  ``models.second_cnn``, the ImageNet VGG in ``models.imagenet``, the ladder in ``experiments.dream_ladder``.

Sub-packages, in the only order imports may point (a module imports from its own layer or earlier):
``runtime`` (seeding, device, headless mode, threads, progress, widgets, validation, report hooks) ->
``data`` (paths, checksums, rainfall, CIFAR-10, cat/car, image operations) -> the lesson modules ->
``models`` -> ``checks`` -> ``plots`` -> ``experiments``. ``tests/test_architecture.py`` enforces it,
and that nothing here imports the build tooling in ``tools/``.

The checks never run the student's code in the notebook's process: ``checks.sandbox`` starts a sandboxed
worker (``checks.sandbox_worker``) that runs it, one fresh process per check; the ``checks.harness_*``
modules are the sandbox side of each notebook's checks (they build objects from data, call the student's
code, return data), and the ``checks.exercises_*`` modules judge what comes back.
"""
