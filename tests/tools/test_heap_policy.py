"""The ``ossfaces`` command runs with the engine's C heap policy (``ossfaces.heap``): ``people`` at a million faces
frees and reallocates blocks of 4-32 MiB, which glibc's default would afterwards serve from the heap and keep."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import pytest

# In a fresh process: run a command through the CLI's group, then free a block of 8 MiB (which raises glibc's default
# mmap threshold to 8 MiB) and take one of 6 MiB. glibc's own count of mapped blocks (mallinfo2().hblks) says where it
# came from: its own mapping under the policy, the heap without it.
PROBE = """
import ctypes, sys
from ossfaces_tools.commands import main

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]

if sys.argv[1] == "cli":
    main(["schema", "-o", sys.argv[2]], standalone_mode=False)
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.mallinfo2.restype = MallInfo2
libc.free(libc.malloc(8 << 20))
before = libc.mallinfo2().hblks
block = libc.malloc(6 << 20)
print(libc.mallinfo2().hblks - before)
libc.free(block)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the heap policy is glibc's (FC's runtimes are Debian)")
@pytest.mark.parametrize(("how", "mapped"), [("cli", 1), ("bare", 0)])
def test_the_command_keeps_large_blocks_mapped(tmp_path: Path, how: str, mapped: int) -> None:
    """``bare`` (the same process without a command) shows the probe tells the two apart."""
    out = subprocess.run([sys.executable, "-c", PROBE, how, str(tmp_path / "schema.json")], capture_output=True,
                         text=True, check=True)  # fmt: skip
    assert int(out.stdout.strip().splitlines()[-1]) == mapped
