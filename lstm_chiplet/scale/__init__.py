"""Scale-out on Dask: ``detect`` over many inputs, faults, ``bench-scale``.

* :mod:`.partitions`: the work itself, as plain functions a worker runs: read one
  file into per-station partitions (:func:`~.partitions.load_file`), score a chunk of
  one partition on every backend (:func:`~.partitions.score_chunk`).
* :mod:`.cluster`: where those functions run: in this process (``--workers 1``), on
  a ``LocalCluster`` it starts, or on an existing scheduler; it counts every
  execution of every task, so re-computations after a lost worker are reported.
* :mod:`.detect_many`: ``detect`` over several files, a glob or a folder: gathers the
  chunks into one report (overall table, per-station sections and plots).
* :mod:`.bench`: ``lstm-chiplet bench-scale``, the speed-up of 1 against 2 workers.

The layout and the rules are in ``docs/scale.md``.
"""
