"""Start-up time of CNN Explorer's window against a bare PySide6 window with one label.

Both run as fresh processes (`--quit-after-shown`: exit right after the first paint), several times each,
alternating; the best of each is compared. Target (issue 2): window painted in under 1 s here and at most 3×
the bare window.

    python bench/startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BARE = """
import sys
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QLabel
app = QApplication(sys.argv[:1])
label = QLabel("hello")
class Painted(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            QTimer.singleShot(0, app.quit)
        return False
f = Painted(); label.installEventFilter(f)
label.resize(400, 300); label.show()
sys.exit(app.exec())
"""


def time_command(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
           "CNN_EXPLORER_SETTINGS_DIR": str(ROOT / ".bench-settings")}
    bare_cmd = [sys.executable, "-c", BARE]
    app_cmd = [sys.executable, "main.py", "--quit-after-shown"]
    time_command(bare_cmd, env), time_command(app_cmd, env)  # warm the file cache
    bare, app = [], []
    for _ in range(args.runs):
        bare.append(time_command(bare_cmd, env))
        app.append(time_command(app_cmd, env))
    b, a = min(bare), min(app)
    print(f"bare PySide6 window: best {b * 1000:.0f} ms (median {sorted(bare)[len(bare) // 2] * 1000:.0f} ms)")
    print(f"CNN Explorer window: best {a * 1000:.0f} ms (median {sorted(app)[len(app) // 2] * 1000:.0f} ms)")
    print(f"ratio: {a / b:.2f}  (target: under 1 s and at most 3x)")


if __name__ == "__main__":
    main()
