"""Evaluation: ``metrics`` (pure math: FID, IS, KID, precision/recall, density/coverage,
classes), ``feature_networks`` (evaluator, InceptionV3, the 2015 Inception graph), the
evaluator ``classifier`` the pipeline trains, and ``scoring`` (real-data references and
every metric of a set of samples)."""
