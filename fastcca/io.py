"""Files fastcca writes and reads: atomic writes (a temporary file in the same folder, flushed,
then renamed over the target, so an interrupted run never leaves a half-written file) and the
error for a file it cannot read.  ``paper_repro`` writes its figures, records and caches through
these."""
from ._io import FastccaFileError, save_npz_atomic, write_atomic

__all__ = ["write_atomic", "save_npz_atomic", "FastccaFileError"]
