"""Fitting and validating the shipped calibration on licensed labelled faces (docs/calibration.md).

The parts, in the order a run uses them: :mod:`.labels` (what a labelled face says, the licence gate, manifests),
:mod:`.datasets` (adapters for the licensed sets), :mod:`.engine` (the real engine's raw outputs, cached per engine
build), :mod:`.crossval` (folds by person), :mod:`.fitage`, :mod:`.fitgender`, :mod:`.fitemotion` (one fit each),
:mod:`.fit` (the named steps, provenance, the validation block), :mod:`.evaluate` (the figures), :mod:`.render`
(the tables) and :mod:`.cli` (``python -m ossfaces_tools.calibrate``).
"""
