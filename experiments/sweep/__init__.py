"""Ray Tune sweeps over the experiment runner: one trial is one problem x method x seed run.

- :mod:`.spec`: sweep files, checked and expanded into trials; a trial's ``ExperimentSpec``;
- :mod:`.trials`: one trial's run and files (``trials/<key>/``: rows, attempts, checkpoint, ``done.json``);
- :mod:`.driver`: Ray Tune, resuming, gathering ``results.csv`` and ``trials.csv``, the report;
- :mod:`.cli`: ``codesign-gym sweep``; :mod:`.cluster`: loopback multi-node Ray clusters for tests.
"""
