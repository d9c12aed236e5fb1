"""cluster_bench.table: CSV with plain numbers, Markdown with the best of each column bold."""

from __future__ import annotations

import csv

from sdstylegan.cluster_bench.table import best_values, to_markdown, write_tables

ROWS = [
    {
        "encoder": "pixels",
        "algorithm": "kmeans",
        "k": 3,
        "accuracy": 0.5,
        "nmi": 0.2,
        "ari": 0.1,
        "silhouette": 0.3,
    },
    {
        "encoder": "pixels",
        "algorithm": "gmm",
        "k": 3,
        "accuracy": 0.75,
        "nmi": 0.2,
        "ari": -0.05,
        "silhouette": None,
    },
    {
        "encoder": "clip_standin",
        "algorithm": "kmeans",
        "k": 3,
        "accuracy": 0.6,
        "nmi": 0.4,
        "ari": 0.3,
        "silhouette": 0.1,
    },
]


def test_best_per_column_bold_and_ties_all_bold():
    assert best_values(ROWS) == {"accuracy": 0.75, "nmi": 0.4, "ari": 0.3, "silhouette": 0.3}
    md = to_markdown(ROWS + [dict(ROWS[2], algorithm="birch")], notes=["a note"])
    lines = md.splitlines()
    assert "a note" in lines
    assert "| pixels | gmm | 3 | **0.750** | 0.200 | -0.050 |  |" in lines  # empty silhouette cell
    assert "| pixels | kmeans | 3 | 0.500 | 0.200 | 0.100 | **0.300** |" in lines
    assert sum("**0.400**" in line for line in lines) == 2  # the tie: both rows bold
    assert "| encoder | kmeans | gmm | birch |" in lines  # the accuracy pivot
    assert "| pixels | 0.500 | **0.750** |  |" in lines


def test_files_written(tmp_path):
    csv_path, md_path = write_tables(ROWS, tmp_path)
    rows = list(csv.DictReader(csv_path.open()))
    assert (
        rows[1]["accuracy"] == "0.75" and rows[1]["silhouette"] == "" and rows[2]["encoder"] == "clip_standin"
    )
    assert md_path.read_text().startswith("# Clustering benchmark")
    unlabelled = to_markdown([{"encoder": "e", "algorithm": "a", "k": 2, "silhouette": 0.1}])
    assert "Accuracy" not in unlabelled and "**0.100**" in unlabelled
