"""Strip the debug info from the native libraries in wheels, in place (`make image`, issue #16).

    python deploy/strip-wheels.py build/image/wheels/*.whl

Some wheels ship their extension modules with DWARF debug info: zstandard's two backends and
uvloop's loop are 12-14 MB each, 1-2 MB stripped.  Each ``*.so`` member is run through
``strip --strip-debug`` (symbols stay: tracebacks and ``perf`` still name functions) and the
wheel is rewritten with the new sizes and hashes in its RECORD; members keep their order, names
and dates, so the same wheel always gives the same bytes.  Wheels without debug info are left
untouched.  Needs ``strip`` (binutils); without it the wheels stay as they are.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path


def record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def strip(data: bytes, tmp: Path) -> bytes:
    so = tmp / "member.so"
    so.write_bytes(data)
    subprocess.run(["strip", "--strip-debug", str(so)], check=True)
    return so.read_bytes()


def strip_wheel(wheel: Path, tmp: Path) -> int:
    """Rewrite ``wheel`` with its ``.so`` members stripped; returns the bytes saved."""
    with zipfile.ZipFile(wheel) as zf:
        members = [(info, zf.read(info)) for info in zf.infolist()]
    new: dict[str, bytes] = {}
    for info, data in members:
        if info.filename.endswith(".so") or ".so." in info.filename:
            stripped = strip(data, tmp)
            if len(stripped) < len(data):
                new[info.filename] = stripped
    if not new:
        return 0
    saved = 0
    out = wheel.with_suffix(".part")
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in members:
            if info.filename in new:
                saved += len(data) - len(new[info.filename])
                data = new[info.filename]
            elif info.filename.endswith(".dist-info/RECORD"):
                data = fix_record(data.decode(), new).encode()
            zi = zipfile.ZipInfo(info.filename, info.date_time)
            zi.external_attr = info.external_attr
            zi.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(zi, data)
    out.replace(wheel)
    return saved


def fix_record(record: str, new: dict[str, bytes]) -> str:
    lines = []
    for line in record.splitlines():
        name = line.split(",")[0]
        if name in new:
            line = f"{name},{record_hash(new[name])},{len(new[name])}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def main(paths: list[str]) -> int:
    if shutil.which("strip") is None:
        print(
            "strip-wheels: no strip (binutils): the wheels keep their debug info", file=sys.stderr
        )
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        total = sum(strip_wheel(Path(p), Path(tmp)) for p in paths)
    print(f"strip-wheels: {total / 1e6:.1f} MB of debug info removed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
