"""The notebooks' experiments: the spiral step-size sweep (01), the rainfall fit (02), δ norms and
training by the delta rule (03), the cat/car SGD sweep and evaluation (04)."""
