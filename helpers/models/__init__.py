"""Ready-made networks: notebook 05's CIFAR-10 CNN (and its training command) and the ``torch.nn``
twins of the hand-written networks."""
