# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""Screenshot of the web page (`mcn-cl app`) in a real headless browser (Debian's chromium), for the README.

Speaks a short two-voice conversation with espeak-ng, serves the app of `--model` on 127.0.0.1 with that recording
analysed as the page's worked example, and has chromium load the page and write a PNG:

    python examples/app_screenshot.py --model runs/demo --output docs/images/app.png

Needs espeak-ng, chromium and gradio (`apt-get install espeak-ng chromium`, `pip install -e ".[dev]"`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="checkpoint folder")
    p.add_argument("--output", default="docs/images/app.png")
    p.add_argument("--wait", type=float, default=20.0, help="virtual-time budget of the page (s)")
    p.add_argument("--size", default="1280,1900", help="window width,height in pixels")
    args = p.parse_args(argv)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        sys.exit("chromium is not installed (apt-get install chromium)")
    from mcn_cl.recording.app import build_app
    from mcn_cl.recording.commands import load_classifier
    from mcn_cl.recording.synthetic import HELD_OUT_CONVERSATION, HELD_OUT_VOICES, synthesize_conversation

    folder = tempfile.mkdtemp(prefix="mcn-cl-screenshot-")
    recording = os.path.join(folder, "lab_morning.wav")
    synthesize_conversation(recording, HELD_OUT_CONVERSATION, HELD_OUT_VOICES)
    demo = build_app(load_classifier(args.model), example=recording)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    url = f"http://127.0.0.1:{port}/"
    for _ in range(100):
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            time.sleep(0.2)
    output = os.path.abspath(args.output)
    os.makedirs(os.path.dirname(output), exist_ok=True)
    command = [
        browser,
        *CHROMIUM_FLAGS,
        f"--user-data-dir={os.path.join(folder, 'profile')}",
        f"--window-size={args.size}",
        f"--virtual-time-budget={int(args.wait * 1000)}",
        f"--screenshot={output}",
        url,
    ]
    try:
        subprocess.run(command, check=True, capture_output=True, timeout=args.wait + 120)
    finally:
        demo.close()
    print(f"screenshot written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
