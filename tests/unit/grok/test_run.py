"""Golden case through the real command: ``qframe run`` stdin → grok → log(json)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .examples import COMBINED, SYSLOG

QFRAME = str(Path(sys.executable).with_name("qframe"))

CONFIG = """\
log: {level: warn}
data-dir: %(dir)s/data
collector:
  stdin: {}
filter:
  apache: {kind: grok, inputs: [stdin], pattern: "%%{COMBINEDAPACHELOG}"}
  syslog:
    kind: grok
    inputs: [apache]
    source-success: false
    pattern: "%%{SYSLOGLINE}"
    overwrite-message-key: message
handler:
  out: {kind: log, inputs: [apache, syslog], format: json, path: %(dir)s/out.json}
  rest: {kind: log, inputs: [syslog], source-success: false, format: json, path: %(dir)s/rest.json}
"""


def test_qframe_run_parses_stdin_lines_into_json_output(tmp_path: Path) -> None:
    cfg = tmp_path / "p.yml"
    cfg.write_text(CONFIG % {"dir": tmp_path})
    lines = [COMBINED, SYSLOG, "free text"]
    res = subprocess.run(
        [QFRAME, "run", "-c", str(cfg)],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    out = [json.loads(x) for x in (tmp_path / "out.json").read_text().splitlines()]
    by_path = {tuple(o["source_path"]): o for o in out}
    web = by_path[("stdin", "apache", "out")]
    assert web["fields"]["agent"] == '"Mozilla/4.08 [en] (Win98; I ;Nav)"'
    assert web["source_success"] is True and "tags" not in web
    sys_ = by_path[("stdin", "apache", "syslog", "out")]
    assert sys_["message"] == "Accepted publickey for root from 10.0.0.9"
    assert sys_["fields"]["program"] == "sshd"
    assert sys_["tags"] == ["_grokparsefailure"]  # from the first grok, kept as in Logstash
    (rest,) = [json.loads(x) for x in (tmp_path / "rest.json").read_text().splitlines()]
    assert rest["message"] == "free text" and rest["source_success"] is False
