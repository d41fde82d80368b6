"""The AWS rehearsal's parts; the entry point and its story are ``tools/rehearse_aws.py``.

* :mod:`tools.rehearsal.workspace` — one rehearsal's directory, buckets and tag, the local S3
  API's clients, the environments a node sees, running and timing a command, the result table;
* :mod:`tools.rehearsal.deploy` — 1-2: the artifacts uploaded as Terraform does, the rendered
  bootstrap run on a fresh "node";
* :mod:`tools.rehearsal.node` — an EMR step run here: Terraform's step environment, the step's
  Args made local, EMR's own spark-defaults;
* :mod:`tools.rehearsal.emr_api` — 4: the hourly DAG's aws target by ``dag.test()`` against the
  EMR API of the local S3 API (moto), each submitted step checked against the builder;
* :mod:`tools.rehearsal.checks` — what must hold after a run: the hour reconciles, the late
  events' hour was corrected.
"""
