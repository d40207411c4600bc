"""Ray Tune sweeps over the experiment runner: one trial is one problem x method x seed run."""
