"""One module per figure; see :mod:`paper_repro.registry` for the interface and the catalogue."""
