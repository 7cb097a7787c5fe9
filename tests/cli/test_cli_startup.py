"""The CLI starts without loading what only some commands need (model conversion, the pipeline,
the web app, plotting): a hotlist or candidate command is a person at a shell waiting. Checked
by module, not by time (``bench/cli_startup.py`` measures the time)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("onnx", "supervision", "matplotlib", "vigil.api.app", "vigil.workers.runner", "vigil.models.converters")


def test_importing_the_cli_loads_none_of_the_heavy_modules() -> None:
    code = "import json, sys, vigil.cli.main; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    loaded = set(json.loads(out.stdout))
    assert "vigil.cli.plates_cmd" in loaded and "vigil.cli.faces_cmd" in loaded  # the commands are there
    assert sorted(m for m in HEAVY if m in loaded) == []
