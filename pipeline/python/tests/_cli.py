"""The `synplast` command line the tests compare the package with."""
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def cli_binary():
    """The `synplast` command line: $SYNPLAST_CLI, else a release build of this checkout."""
    if os.environ.get("SYNPLAST_CLI"):
        return Path(os.environ["SYNPLAST_CLI"])
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    exe = target / "release" / "synplast"
    if not exe.exists():
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "synplast", "--bin", "synplast"],
                       cwd=ROOT, check=True)
    return exe
