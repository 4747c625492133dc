"""Check config.yaml against the jupyterhub Helm chart's own schema, the way `helm install` would, without a cluster.

    helm pull jupyterhub/jupyterhub --version 4.4.0 --untar --untardir /tmp/chart
    .venv/bin/python deploy/z2jh/check_chart_schema.py /tmp/chart/jupyterhub [VALUES.yaml ...]

Helm merges the chart's values.yaml with the given values files (maps key by key, anything else replaced, a null
removing the key) and validates the result against the chart's values.schema.json; this does the same with
jsonschema (in requirements.txt). The chart's schema forbids unknown keys almost everywhere, so a misspelt or
misplaced key fails here. It cannot see into hub.config's pass-through classes or hub.extraConfig's Python.
A chart checkout works too (values.schema.yaml instead of the packaged values.schema.json).
Exit status 0 when the merged values are valid, 1 with each violation's path otherwise.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import jsonschema
import yaml

HERE = Path(__file__).resolve().parent


def merged(base: dict, override: dict) -> dict:
    """Helm's coalescing of two values maps: ``override`` wins, maps merge recursively, null deletes."""
    result = dict(base)
    for key, value in override.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def schema_of(chart: Path) -> dict:
    packaged = chart / "values.schema.json"
    if packaged.is_file():
        return json.loads(packaged.read_text())
    return yaml.safe_load((chart / "values.schema.yaml").read_text())


def violations(chart: Path, values_files: list[Path]) -> list[str]:
    values = yaml.safe_load((chart / "values.yaml").read_text())
    for path in values_files:
        values = merged(values, yaml.safe_load(path.read_text()) or {})
    validator = jsonschema.Draft7Validator(schema_of(chart))
    return [f"{'.'.join(str(p) for p in error.absolute_path) or '(top)'}: {error.message}"
            for error in sorted(validator.iter_errors(values), key=lambda e: list(map(str, e.absolute_path)))]


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    chart = Path(argv[0])
    files = [Path(a) for a in argv[1:]] or [HERE / "config.yaml"]
    chart_yaml = yaml.safe_load((chart / "Chart.yaml").read_text())
    problems = violations(chart, files)
    for problem in problems:
        print(problem)
    print(f"{', '.join(map(str, files))} against chart {chart_yaml.get('version')} "
          f"(app {chart_yaml.get('appVersion')}): {'valid' if not problems else f'{len(problems)} violation(s)'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
