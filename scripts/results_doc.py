"""Puts an experiment's generated report into docs/results.md: everything below the
marker line is replaced by the folder's report.md (plot links pointing at
docs/results/plots/, where the plots are copied); the discussion above the marker is
kept as written.

    python3 scripts/results_doc.py runs/study
"""
import shutil
import sys
from pathlib import Path

MARKER = "<!-- generated report below: scripts/results_doc.py; do not edit by hand -->"


def main():
    run = Path(sys.argv[1])
    root = Path(__file__).resolve().parents[1]
    doc = root / "docs" / "results.md"
    head = doc.read_text().split(MARKER)[0] if doc.exists() else "# Results\n\n"
    report = (run / "report.md").read_text()
    report = report.replace("](plots/", "](results/plots/").replace("Plots are in `plots/`", "Plots are in `docs/results/plots/`")
    # The report's own title becomes a section of the document.
    report = report.replace("# Report:", "## The generated report:", 1)
    report = "\n".join(("#" + line) if line.startswith("## RQ") or line.startswith("### ") else line for line in report.splitlines())
    plots = root / "docs" / "results" / "plots"
    if plots.exists():
        shutil.rmtree(plots)
    shutil.copytree(run / "plots", plots)
    doc.write_text(head.rstrip() + "\n\n" + MARKER + "\n\n" + report.rstrip() + "\n")
    print(f"wrote {doc} and {plots}")


if __name__ == "__main__":
    main()
