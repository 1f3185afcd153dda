"""Hand-made seed runs in a real MLflow store, as the pipeline leaves them (study tests)."""

from mlflow.entities import Metric, Param

from gantrack.study.spec import run_params

STUDY = """
budget: {steps: 3000}
seeds: [1, 2, 3]
reference: default
points:
  - name: default
  - name: hinge
    params: {train.loss: hinge}
"""
FIDS = {("default", 1): 3.0, ("default", 2): 5.0, ("default", 3): 4.0}
FIDS |= {("hinge", 1): 9.0, ("hinge", 2): 8.0, ("hinge", 3): 12.0}


def seed_run(client, experiment, params, fid, status="FINISHED", name=None, complete=True):
    """A run as the pipeline leaves it: params as strings, the recipe metrics, a curve."""
    run = client.create_run(experiment, run_name=name, tags={"dvc.experiment": name or ""})
    run_id = run.info.run_id
    client.log_batch(run_id, params=[Param(k, v) for k, v in list(params.items())[:100]])
    client.log_batch(run_id, params=[Param(k, v) for k, v in list(params.items())[100:]])
    if complete:
        values = {"fid": fid, "inception_score": 8.0, "kid": fid / 10, "precision": 0.7}
        values["recall"] = 0.7
        metrics = [Metric(f"evaluator.{k}", v, 0, 0) for k, v in values.items()]
        metrics.append(Metric("steps_per_epoch", 250, 0, 0))
        metrics += [Metric("eval.fid", fid * (13 - epoch), 0, epoch) for epoch in (2, 12)]
        client.log_batch(run_id, metrics=metrics)
    client.set_terminated(run_id, status)
    return client.get_run(run_id)


def fill(client, study, skip=()):
    """A ``gantrack`` experiment holding a complete run of every (point, seed) of FIDS."""
    experiment = client.create_experiment("gantrack")
    for (point, seed), fid in FIDS.items():
        if (point, seed) not in skip:
            params = run_params(study.params[(point, seed)])
            seed_run(client, experiment, params, fid, name=f"grid-{point}-s{seed}")
    return experiment


def current(study):
    """This checkout's run params (the study's default point)."""
    return run_params(study.params[("default", 1)])
