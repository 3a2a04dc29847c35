"""One measurement of the monitor benchmark, run in a fresh process of the tool's own venv.

``python _monitor_worker.py TOOL DATA.parquet`` profiles the file with TOOL (slipway,
whylogs or evidently) and prints ``{"seconds": ..., "peak_rss_mib": ..., ...}`` as JSON.
Only the standard library is imported at the top: each venv has different packages.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time


def slipway(path: str) -> dict:
    from slipway.monitor import formats
    from slipway.monitor.baseline import profile_dataset, statistics_of, suggest_constraints

    started = time.perf_counter()
    profile = profile_dataset(path, "parquet")
    statistics = formats.dump(statistics_of(profile))
    constraints = formats.dump(suggest_constraints(profile))
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "rows": profile.item_count,
        "features": len(profile.columns),
        "output_bytes": len(statistics) + len(constraints),
    }


def whylogs(path: str) -> dict:
    import pandas as pd
    import whylogs as why

    started = time.perf_counter()
    frame = pd.read_parquet(path)
    view = why.log(frame).view()
    summary = view.to_pandas()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": len(frame), "features": len(summary)}


def evidently(path: str) -> dict:
    import pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset

    started = time.perf_counter()
    reference = pd.read_parquet(path)
    current = pd.read_parquet(path)
    snapshot = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        snapshot.save_json(out.name)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": len(reference), "features": len(reference.columns)}


def main() -> None:
    tool, path = sys.argv[1], sys.argv[2]
    result = {"slipway": slipway, "whylogs": whylogs, "evidently": evidently}[tool](path)
    # ru_maxrss is in KiB on Linux: the process's peak resident memory, imports included.
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


if __name__ == "__main__":
    main()
