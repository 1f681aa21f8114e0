#!/usr/bin/env python3
"""Unpack a zip archive into a folder, refusing every entry that would land outside it.

Usage: extract.py ARCHIVE TARGET [--only GLOB] [--into NAME]

Refused (the whole extraction fails, nothing outside TARGET is ever written):
  - absolute paths (/etc/passwd, C:\\x, \\\\server\\share)
  - paths with '..' components that climb out of TARGET
  - symbolic links and other non-regular entries (device files, FIFOs)
  - duplicate entries that would overwrite a file already extracted, and a file and a folder
    of the same name (in either order)
  - names with control characters, names that are not valid UTF-8, names longer than the file
    system takes (255 bytes a component, 4096 in all)
  - encrypted entries, and archives that expand beyond --max-bytes (4 GiB by default; counted
    from what the archive declares and again as it is written) or hold more than 100,000 entries
A file that is not a zip, or a corrupt one, fails with one line on stderr (exit 2); a refusal
with one line too (exit 3). Files are written to a temporary folder inside TARGET's parent and
moved into place only when every entry extracted, so a failure leaves no partial output behind.
"""
import argparse
import fnmatch
import os
import shutil
import stat
import struct
import sys
import tempfile
import zipfile
import zlib

MAX_TOTAL_BYTES = 4 * 1024 ** 3  # refuse zip bombs that expand beyond 4 GiB
MAX_ENTRIES = 100_000
MAX_COMPONENT_BYTES = 255  # what Linux file systems take for one name
MAX_PATH_BYTES = 4096
CHUNK = 1024 * 1024
# what a damaged archive makes zipfile raise, besides BadZipFile
CORRUPT = (zipfile.BadZipFile, zlib.error, EOFError, struct.error, NotImplementedError, ValueError, OverflowError)


class Refused(Exception):
    pass


def safe_relative(name: str) -> str:
    """The entry's path relative to the target, or Refused if it could escape or cannot be a name."""
    if "\x00" in name:
        raise Refused(f"entry name contains a NUL byte: {name!r}")
    if any(ord(c) < 0x20 or 0x7f <= ord(c) < 0xa0 for c in name):
        raise Refused(f"entry name contains control characters: {name!r}")
    normalized = name.replace("\\", "/")
    if normalized.startswith("/") or (len(normalized) > 1 and normalized[1] == ":"):
        raise Refused(f"absolute path: {name!r}")
    parts = [p for p in normalized.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise Refused(f"path climbs out of the target with '..': {name!r}")
    try:
        sizes = [len(p.encode("utf-8")) for p in parts]
    except UnicodeEncodeError:
        raise Refused(f"entry name is not valid Unicode: {name!r}") from None
    if any(size > MAX_COMPONENT_BYTES for size in sizes) or sum(sizes) + len(sizes) > MAX_PATH_BYTES:
        raise Refused(f"entry name is too long for a file name ({MAX_COMPONENT_BYTES} bytes a part, {MAX_PATH_BYTES} in all): {shorten(name)!r}")
    return "/".join(parts)


def shorten(name: str) -> str:
    return name if len(name) <= 80 else f"{name[:60]}...{name[-17:]}"


class Layout:
    """What the archive makes, to refuse a file and a folder of the same name in either order."""

    def __init__(self):
        self.files = set()
        self.dirs = set()

    def add_dir(self, relative: str, name: str):
        parts = relative.split("/")
        for i in range(1, len(parts) + 1):
            folder = "/".join(parts[:i])
            if folder in self.files:
                raise Refused(f"entry {name!r} needs {folder!r} as a folder, but the archive has a file of that name")
            self.dirs.add(folder)

    def add_file(self, relative: str, name: str):
        if relative in self.files:
            raise Refused(f"duplicate entry: {name!r}")
        if relative in self.dirs:
            raise Refused(f"entry {name!r} is a file, but the archive has a folder of that name")
        if "/" in relative:
            self.add_dir(relative.rsplit("/", 1)[0], name)
        self.files.add(relative)


def copy_bounded(src, dst, budget: int) -> int:
    """Copies at most `budget` bytes; Refused when there is more."""
    written = 0
    while True:
        chunk = src.read(min(CHUNK, budget - written + 1))
        if not chunk:
            return written
        written += len(chunk)
        if written > budget:
            raise Refused("archive expands beyond the size allowed (--max-bytes)")
        dst.write(chunk)


def entry_kind(info: zipfile.ZipInfo) -> str:
    file_type = stat.S_IFMT(info.external_attr >> 16)
    if info.is_dir():
        return "dir"
    # many tools store permission bits only (no file type): that is a regular file
    if file_type and file_type != stat.S_IFREG:
        return "link" if file_type == stat.S_IFLNK else "special"
    return "file"


def check_entries(infos, max_bytes: int):
    """Refuses what can be seen before anything is written: too many entries, too many bytes declared, encryption."""
    if len(infos) > MAX_ENTRIES:
        raise Refused(f"archive holds {len(infos)} entries, more than {MAX_ENTRIES}")
    declared = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise Refused(f"encrypted entries are not extracted: {info.filename!r}")
        declared += info.file_size
    if declared > max_bytes:
        raise Refused(f"archive declares {declared} bytes, more than the {max_bytes} allowed (--max-bytes)")


def extract(archive: str, target: str, only: str | None, max_bytes: int = MAX_TOTAL_BYTES) -> int:
    target = os.path.abspath(target)
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".extract-", dir=parent)
    try:
        count = 0
        total = 0
        layout = Layout()
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            check_entries(infos, max_bytes)
            for info in infos:
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
                    layout.add_dir(relative, info.filename)
                    os.makedirs(destination, exist_ok=True)
                    continue
                if only and not fnmatch.fnmatch(os.path.basename(relative), only):
                    continue
                layout.add_file(relative, info.filename)
                os.makedirs(os.path.dirname(destination), exist_ok=True)
                with zf.open(info) as src, open(destination, "xb") as dst:
                    total += copy_bounded(src, dst, max_bytes - total)
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
    parser.add_argument("--max-bytes", type=int, default=MAX_TOTAL_BYTES, help="the most bytes the archive may expand to (default 4 GiB)")
    args = parser.parse_args()
    target = args.target
    try:
        if args.into != "":
            # a name from a message: one plain path component, nothing that could climb or hide
            if args.into in (".", "..") or "/" in args.into or "\\" in args.into or "\0" in args.into or args.into.startswith("."):
                raise Refused(f"--into must be one folder name, not {args.into!r}")
            target = os.path.join(target, args.into)
        count = extract(args.archive, target, args.only, args.max_bytes)
    except Refused as err:
        print(f"extract: refused: {err}", file=sys.stderr)
        return 3
    except UnicodeDecodeError:
        print(f"extract: refused: {args.archive} marks its entry names as UTF-8, and one is not", file=sys.stderr)
        return 3
    except RuntimeError as err:
        # zipfile's word for an entry it cannot decrypt
        print(f"extract: refused: {err}", file=sys.stderr)
        return 3
    except CORRUPT as err:
        print(f"extract: cannot read {args.archive}: not a zip archive, or a damaged one ({type(err).__name__}: {err})", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"extract: {err.strerror or err}: {err.filename or args.archive}", file=sys.stderr)
        return 2
    print(f"extracted {count} file(s) into {target}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as err:  # never a traceback: one line, and a failure
        print(f"extract: failed: {type(err).__name__}: {err}", file=sys.stderr)
        sys.exit(1)
