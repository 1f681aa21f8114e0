#!/usr/bin/env python3
"""Summarise every CSV file under a folder.

Usage: aggregate.py DATA_DIR OUTPUT_DIR [--group-by COLUMN]

Writes OUTPUT_DIR/summary.json: per file its row count and, for each numeric column, count, sum,
min, max and mean; with --group-by, the same per value of that column across all files. Also
writes OUTPUT_DIR/summary.csv, one row per (file or group, column). Outputs are written to
temporary files and renamed, so a failure leaves no partial summary.

A CSV file that cannot be summarised (empty, not UTF-8 text, binary, a row with more or fewer
fields than the header, a header naming a column twice, a .csv that is not a regular file) fails
the whole run with one line on stderr naming the file and the line (exit 2), never a traceback.
"""
import argparse
import csv
import io
import json
import os
import stat
import sys
import tempfile

MAX_FIELD_BYTES = 16 * 1024 * 1024  # a field larger than this is not a value to summarise


class BadCsv(Exception):
    pass


def number(text: str):
    try:
        value = float(text.replace(",", "")) if text.strip() else None
    except ValueError:
        return None
    return value


class Stats:
    def __init__(self):
        self.count = 0
        self.sum = 0.0
        self.min = None
        self.max = None

    def add(self, value: float):
        self.count += 1
        self.sum += value
        self.min = value if self.min is None else min(self.min, value)
        self.max = value if self.max is None else max(self.max, value)

    def as_dict(self):
        return {"count": self.count, "sum": round(self.sum, 6), "min": self.min, "max": self.max,
                "mean": round(self.sum / self.count, 6) if self.count else None}


def summarise(rows, numeric_columns):
    stats = {c: Stats() for c in numeric_columns}
    for row in rows:
        for column in numeric_columns:
            value = number(row.get(column) or "")
            if value is not None:
                stats[column].add(value)
    return {c: s.as_dict() for c, s in stats.items()}


def read_csv(path, name):
    """The header and the rows of a CSV file, or BadCsv saying what is wrong and where."""
    if not stat.S_ISREG(os.lstat(path).st_mode):
        raise BadCsv(f"{name} is not a regular file")
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise BadCsv(f"{name} line {line} is not UTF-8 text (byte 0x{data[err.start]:02x}); is it a CSV file?") from None
    if "\x00" in text:
        raise BadCsv(f"{name} line {text.count(chr(10), 0, text.index(chr(0))) + 1} holds a NUL byte: it is binary, not CSV")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise BadCsv(f"{name} is empty: a CSV file starts with a header row")
        seen = set()
        for column in header:
            if column in seen:
                raise BadCsv(f"{name} line 1 names the column {column!r} twice")
            seen.add(column)
        rows = []
        for fields in reader:
            if not fields:
                continue  # a blank line
            if len(fields) != len(header):
                raise BadCsv(f"{name} line {reader.line_num} has {len(fields)} field(s), the header has {len(header)}")
            rows.append(dict(zip(header, fields)))
        return header, rows
    except csv.Error as err:
        raise BadCsv(f"{name} line {reader.line_num}: not CSV: {err}") from None


def numeric(fieldnames, rows):
    """Columns where every non-empty value is a number (and at least one is)."""
    result = []
    for column in fieldnames:
        values = [r.get(column) or "" for r in rows]
        present = [v for v in values if v.strip()]
        if present and all(number(v) is not None for v in present):
            result.append(column)
    return result


def write_atomically(path, text):
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main() -> int:
    parser = argparse.ArgumentParser(description="Summarise the CSV files of a folder.")
    parser.add_argument("data")
    parser.add_argument("output")
    parser.add_argument("--group-by", default="", help="a column to group rows by, across files")
    args = parser.parse_args()

    files = []
    for root, dirs, names in os.walk(args.data):
        dirs.sort()
        files.extend(os.path.join(root, n) for n in sorted(names) if n.lower().endswith(".csv"))
    if not files:
        print(f"aggregate: no .csv files under {args.data}", file=sys.stderr)
        return 2

    summary = {"files": {}, "total_rows": 0}
    groups = {}
    for path in files:
        name = os.path.relpath(path, args.data)
        fieldnames, rows = read_csv(path, name)
        columns = numeric(fieldnames, rows)
        summary["files"][name] = {"rows": len(rows), "columns": fieldnames, "numeric": summarise(rows, columns)}
        summary["total_rows"] += len(rows)
        if args.group_by:
            if args.group_by not in fieldnames:
                print(f"aggregate: {name} has no column {args.group_by!r} (columns: {', '.join(fieldnames)})", file=sys.stderr)
                return 2
            for row in rows:
                groups.setdefault(row[args.group_by], []).append(row)
    if args.group_by:
        all_numeric = sorted({c for f in summary["files"].values() for c in f["numeric"]} - {args.group_by})
        summary["groups"] = {key: {"rows": len(rows), "numeric": summarise(rows, all_numeric)} for key, rows in sorted(groups.items())}

    os.makedirs(args.output, exist_ok=True)
    write_atomically(os.path.join(args.output, "summary.json"), json.dumps(summary, indent=2, sort_keys=True) + "\n")
    lines = [["scope", "name", "column", "count", "sum", "min", "max", "mean"]]
    for scope, entries in (("file", summary["files"]), ("group", summary.get("groups", {}))):
        for name, entry in entries.items():
            for column, s in entry["numeric"].items():
                lines.append([scope, name, column, s["count"], s["sum"], s["min"], s["max"], s["mean"]])
    with tempfile.TemporaryFile("w+", newline="") as buffer:
        csv.writer(buffer).writerows(lines)
        buffer.seek(0)
        write_atomically(os.path.join(args.output, "summary.csv"), buffer.read())
    print(f"summarised {len(files)} file(s), {summary['total_rows']} row(s)")
    return 0


if __name__ == "__main__":
    csv.field_size_limit(MAX_FIELD_BYTES)
    try:
        sys.exit(main())
    except BadCsv as err:
        print(f"aggregate: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    except OSError as err:
        print(f"aggregate: {err.strerror or err}: {err.filename or ''}", file=sys.stderr)
        sys.exit(2)
    except Exception as err:  # never a traceback: one line, and a failure
        print(f"aggregate: failed: {type(err).__name__}: {err}", file=sys.stderr)
        sys.exit(1)
