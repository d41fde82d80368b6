"""Print checkov's totals, every failed check and every inline skip with its justification.

Used by `make tf-check` (checkov writes JSON; this prints the human summary).

Usage: python3 terraform/scripts/checkov_summary.py .shopstream/checkov/results_json.json
Exits 1 if a check failed or a skip has no justification.
"""

from __future__ import annotations

import json
import sys


def main(path: str) -> int:
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    reports = data if isinstance(data, list) else [data]
    passed = failed = 0
    skips: list[tuple[str, str, str]] = []
    failures: list[str] = []
    for report in reports:
        summary = report.get("summary", {})
        passed += summary.get("passed", 0)
        failed += summary.get("failed", 0)
        for check in report.get("results", {}).get("failed_checks", []):
            where = f"{check.get('file_path')}:{'-'.join(map(str, check.get('file_line_range', [])))}"
            failures.append(
                f"  FAILED {check['check_id']} {check['resource']} ({where}): {check.get('check_name')}"
            )
        for skip in report.get("results", {}).get("skipped_checks", []):
            reason = (skip.get("check_result") or {}).get("suppress_comment", "") or ""
            skips.append((skip["check_id"], skip["resource"], reason.strip()))
    unjustified = [s for s in skips if len(s[2]) < 10]
    print(f"checkov totals -- checks passed: {passed}; failed: {failed}; skipped (inline): {len(skips)}")
    for line in failures:
        print(line)
    for check_id, resource, reason in sorted(skips):
        print(f"  skip {check_id} {resource}: {reason or 'NO JUSTIFICATION'}")
    return 1 if failed or unjustified else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
