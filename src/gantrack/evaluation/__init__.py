"""Evaluation: ``metrics`` (pure math: FID, IS, KID, precision/recall, density/coverage,
classes, memorisation), ``feature_networks`` (evaluator, InceptionV3, the 2015 Inception
graph), the ``evaluator``'s architecture and the ``classifier`` training that the
pipeline runs (the evaluator, the Classification Accuracy Score), ``reference`` (real-data
statistics, cached per network), ``in_training`` (FID and KID during training) and
``scoring`` (every metric of a set of samples).

Nothing is imported here: a stage imports the modules it uses, so that DVC reruns it only
when one of those changes (``train`` depends on ``in_training``, not on ``scoring``)."""
