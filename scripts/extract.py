#!/usr/bin/env python3
"""Unpack a zip archive into a folder, refusing every entry that would land outside it.

Usage: extract.py ARCHIVE TARGET [--only GLOB] [--into NAME]

Refused (the whole extraction fails, nothing outside TARGET is ever written):
  - absolute paths (/etc/passwd, C:\\x, \\\\server\\share)
  - paths with '..' components that climb out of TARGET
  - symbolic links and other non-regular entries (device files, FIFOs)
  - duplicate entries that would overwrite a file already extracted
Files are written to a temporary folder inside TARGET's parent and moved into place only when
every entry extracted, so a failure leaves no partial output behind.
"""
import argparse
import fnmatch
import os
import shutil
import stat
import sys
import tempfile
import zipfile

MAX_TOTAL_BYTES = 4 * 1024 ** 3  # refuse zip bombs that expand beyond 4 GiB


class Refused(Exception):
    pass


def safe_relative(name: str) -> str:
    """The entry's path relative to the target, or Refused if it could escape."""
    if "\x00" in name:
        raise Refused(f"entry name contains a NUL byte: {name!r}")
    normalized = name.replace("\\", "/")
    if normalized.startswith("/") or (len(normalized) > 1 and normalized[1] == ":"):
        raise Refused(f"absolute path: {name!r}")
    parts = [p for p in normalized.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise Refused(f"path climbs out of the target with '..': {name!r}")
    return "/".join(parts)


def entry_kind(info: zipfile.ZipInfo) -> str:
    file_type = stat.S_IFMT(info.external_attr >> 16)
    if info.is_dir():
        return "dir"
    # many tools store permission bits only (no file type): that is a regular file
    if file_type and file_type != stat.S_IFREG:
        return "link" if file_type == stat.S_IFLNK else "special"
    return "file"


def extract(archive: str, target: str, only: str | None) -> int:
    target = os.path.abspath(target)
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".extract-", dir=parent)
    try:
        count = 0
        total = 0
        seen = set()
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                relative = safe_relative(info.filename)
                kind = entry_kind(info)
                if kind in ("link", "special"):
                    raise Refused(f"{kind} entries are not extracted: {info.filename!r}")
                if relative == "":
                    continue
                destination = os.path.join(staging, relative)
                # belt and braces: the resolved path must stay inside the staging folder
                if os.path.commonpath([os.path.realpath(destination), os.path.realpath(staging)]) != os.path.realpath(staging):
                    raise Refused(f"entry resolves outside the target: {info.filename!r}")
                if kind == "dir":
                    os.makedirs(destination, exist_ok=True)
                    continue
                if only and not fnmatch.fnmatch(os.path.basename(relative), only):
                    continue
                if relative in seen:
                    raise Refused(f"duplicate entry: {info.filename!r}")
                seen.add(relative)
                total += info.file_size
                if total > MAX_TOTAL_BYTES:
                    raise Refused("archive expands beyond 4 GiB")
                os.makedirs(os.path.dirname(destination), exist_ok=True)
                with zf.open(info) as src, open(destination, "xb") as dst:
                    shutil.copyfileobj(src, dst)
                count += 1
        if os.path.exists(target):
            if os.listdir(target):
                raise Refused(f"target folder is not empty: {target}")
            os.rmdir(target)
        os.rename(staging, target)
        staging = None
        return count
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description="Unpack a zip archive safely.")
    parser.add_argument("archive")
    parser.add_argument("target")
    parser.add_argument("--only", help="extract only files whose name matches this glob, e.g. '*.csv'")
    parser.add_argument("--into", default="", help="unpack into TARGET/INTO: one folder name, e.g. a dataset's name (empty: TARGET itself)")
    args = parser.parse_args()
    target = args.target
    try:
        if args.into != "":
            # a name from a message: one plain path component, nothing that could climb or hide
            if args.into in (".", "..") or "/" in args.into or "\\" in args.into or "\0" in args.into or args.into.startswith("."):
                raise Refused(f"--into must be one folder name, not {args.into!r}")
            target = os.path.join(target, args.into)
        count = extract(args.archive, target, args.only)
    except Refused as err:
        print(f"extract: refused: {err}", file=sys.stderr)
        return 3
    except (zipfile.BadZipFile, FileNotFoundError, IsADirectoryError) as err:
        print(f"extract: cannot read {args.archive}: {err}", file=sys.stderr)
        return 2
    print(f"extracted {count} file(s) into {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
