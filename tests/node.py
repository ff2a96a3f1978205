"""Running the front end's pure ES modules under Node.js, to hold them to the same tables as Python."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def node_json(script: str, data: object = None) -> Any:
    """Run an ES module `script` with Node.js (paths relative to the repository; `data` as the global
    DATA) and parse the JSON it prints."""
    prelude = f"globalThis.DATA = {json.dumps(data, ensure_ascii=False)};\n"
    done = subprocess.run(
        ["node", "--input-type=module"],
        input=prelude + script,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def catalogue(path: str) -> dict[str, dict[str, str]]:
    """The `MESSAGES` object literal of a front-end messages module, evaluated."""
    script = f"""
import {{ readFileSync }} from "node:fs";
const text = readFileSync("{path}", "utf8");
const start = text.indexOf("{{", text.indexOf("export const MESSAGES = {{"));
const literal = text.slice(start, text.indexOf("\\n}};", start) + 2);
console.log(JSON.stringify(new Function(`return (${{literal}});`)()));
"""
    result: dict[str, dict[str, str]] = node_json(script)
    return result
