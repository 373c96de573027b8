"""Run google/slo-generator's ``compute`` on SLO files and print its reports as JSON.

Runs inside the slo-generator environment that ``bench/slo_prometheus.py`` creates, so that
its whole process (imports, YAML, queries) is what gets timed, as it is for opsledger.

    python bench/slo_generator_compute.py CONFIG TIMESTAMP SLO.yaml [SLO.yaml ...]
"""

import json
import sys

import yaml
from slo_generator.compute import compute

FIELDS = ("window", "sli_measurement", "good_events_count", "bad_events_count",
          "error_budget_burn_rate", "valid")


def main() -> None:
    config_path, timestamp, *slo_paths = sys.argv[1:]
    with open(config_path) as handle:
        config = yaml.safe_load(handle)
    reports = []
    for path in slo_paths:
        with open(path) as handle:
            slo = yaml.safe_load(handle)
        for report in compute(slo, config, timestamp=float(timestamp)):
            row = {key: report.get(key) for key in FIELDS}
            row["service"] = slo["metadata"]["labels"]["service_name"]
            reports.append(row)
    json.dump(reports, sys.stdout)


if __name__ == "__main__":
    main()
