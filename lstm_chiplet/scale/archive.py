"""A generated multi-station LCD archive: one generated station-season per file.

Each file is :func:`lstm_chiplet.workload.synthetic.generate_lcd` with its own seed
(its own weather and anomalies), relabelled as its own made-up station: the station
column of every row takes the number ``99900000001 + k`` (the '999' prefix marks a
station that does not exist).  ``stations_per_file`` > 1 puts several stations in one
file, as NOAA's bulk downloads do.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import List, Optional

from ..workload import synthetic


def station_id(k: int) -> str:
    return f"{int(synthetic.STATION_ID) + k:011d}"


def write_archive(folder, stations: int, days: int = 30, seed: int = 100,
                  stations_per_file: int = 1, anomalies: Optional[int] = None,
                  normal_days: Optional[int] = None) -> List[Path]:
    """Write ``stations`` generated stations into CSV files under ``folder``; their paths.

    Each station is laid out like the default data (:func:`synthetic.default_plan`:
    two thirds anomaly-free, then events) unless ``normal_days`` (anomaly-free days)
    or ``anomalies`` (events after them) say otherwise.  Files are written to a temporary name and renamed, so a
    reader never sees half a file.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    normal, planned = synthetic.default_plan(days)
    normal = normal if normal_days is None else normal_days
    anomalies = planned if anomalies is None else anomalies
    written = []
    with tempfile.TemporaryDirectory(dir=folder, prefix=".archive-") as work:
        for first in range(0, stations, stations_per_file):
            group = range(first, min(first + stations_per_file, stations))
            name = f"lcd_{station_id(group[0])}" + (f"_{len(group)}" if len(group) > 1 else "")
            target = folder / f"{name}.csv"
            part = Path(work) / f"{name}.csv"
            header = None
            with open(part, "w") as out:
                for k in group:
                    src = synthetic.generate_lcd(Path(work) / f"s{k}.csv", seed=seed + k,
                                                 days=days, normal_days=normal,
                                                 anomalies=anomalies)
                    lines = src.csv_path.read_text().splitlines(keepends=True)
                    if header is None:
                        header = lines[0]
                        out.write(header)
                    old = synthetic.STATION_ID + ","
                    for line in lines[1:]:
                        out.write(station_id(k) + line[len(old) - 1:] if line.startswith(old)
                                  else line)
            os.replace(part, target)
            written.append(target)
    return written
