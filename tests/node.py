"""Running the front end's pure ES modules under Node.js, to hold them to the same tables as Python."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FRONT_END = ("kiosk", "static")  # the folders of the front end's own modules (static/vendor aside)


def _front_end_copy(folder: Path) -> None:
    """The front end's modules under `folder`, in a package that says they are ES modules.

    Browsers load them as modules by their script tags; Node.js before 20.19 takes a `.js` file outside a
    `"type": "module"` package for CommonJS (Debian 12 has Node.js 18), so the tests run a copy that says so.
    """
    (folder / "package.json").write_text('{"type": "module"}\n', encoding="utf-8")
    for top in FRONT_END:
        for source in (ROOT / top).rglob("*.js"):
            relative = source.relative_to(ROOT)
            if relative.parts[:2] == ("static", "vendor"):
                continue
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, folder / relative)


def node_json(script: str, data: object = None) -> Any:
    """Run an ES module `script` with Node.js (paths relative to the repository; `data` as the global
    DATA) and parse the JSON it prints."""
    prelude = f"globalThis.DATA = {json.dumps(data, ensure_ascii=False)};\n"
    with tempfile.TemporaryDirectory(prefix="checkin-node-") as folder:
        _front_end_copy(Path(folder))
        done = subprocess.run(
            ["node", "--input-type=module"],
            input=prelude + script,
            cwd=folder,
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
