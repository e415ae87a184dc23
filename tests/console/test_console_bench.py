"""bench/console.py runs end to end on a tiny home (--quick): it builds the home, signs in,
and reports every console page, timed or "not built"."""

import os
import subprocess
import sys

from tests.console_helpers import ROOT

PAGES = ["review queue", "draft", "customers asking about", "customer", "status", "voice guide"]


def test_the_console_bench_runs_quick() -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "bench/console.py", "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "built 200 customers" in out
    assert "(200 in all)" in out
    lines = {line.strip()[:24].strip(): line for line in out.splitlines() if line.startswith("  ")}
    assert set(lines) == set(PAGES), out
    for page in PAGES:
        assert "p50" in lines[page] or "not built (404)" in lines[page], lines[page]
    # The pages this bench's own author built are always there, and fast on a tiny home.
    for page in ("status", "voice guide"):
        assert "meets the goal" in lines[page], lines[page]
    assert "pages timed" in out.splitlines()[-1]
