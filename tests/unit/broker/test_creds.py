"""NATS ``creds`` and ``nkey-seed`` files: one that cannot be read, or holds no JWT or no
seed, is a config error naming the file, the plugin and the key (``qframe validate`` and
``qframe run`` exit 2 before anything starts)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from qframe.broker.conn import CredsError, _creds_callbacks, read_creds, read_seed
from qframe.config import parse_config
from qframe.errors import ConfigError
from qframe.registry import Registry
from tests.services.natsjwt import KeyPair, Operator

REG = Registry.discover()


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    op = Operator.create()
    return op.account("APP").user("agent").write_creds(tmp_path_factory.mktemp("c") / "a.creds")


def user_seed() -> bytes:
    import nkeys

    return KeyPair.create(nkeys.PREFIX_BYTE_USER).seed


def config(kind: str, key: str, path: Path) -> str:
    if kind == "handler":
        return f"collector:\n  stdin: {{}}\nhandler:\n  out: {{kind: nats, inputs: stdin, {key}: '{path}'}}\n"
    return f"collector:\n  bus: {{kind: nats, {key}: '{path}'}}\nhandler:\n  log: {{inputs: bus}}\n"


def problems(text: str) -> list[str]:
    reg = Registry.discover()
    with pytest.raises(ConfigError) as info:
        parse_config(text, reg, file="p.yml")
    return [str(p) for p in info.value.problems]


def garbled(tmp_path: Path, good: Path) -> dict[str, tuple[Path, str]]:
    """Bad creds files and the words their problem must hold."""
    text = good.read_text()
    seed_at = text.index("-----BEGIN USER NKEY SEED")
    files = {
        "missing": (tmp_path / "missing.creds", "cannot read"),
        "garbage": (tmp_path / "garbage.creds", "holds no user JWT"),
        # nats-py's own reader spins forever on this one (no JWT block)
        "seed only": (tmp_path / "seed-only.creds", "holds no user JWT"),
        "jwt only": (tmp_path / "jwt-only.creds", "holds no nkey seed"),
        "bad seed": (tmp_path / "bad-seed.creds", "holds no nkey seed"),
        "empty": (tmp_path / "empty.creds", "holds no user JWT"),
        "binary": (tmp_path / "binary.creds", "holds no user JWT"),
    }
    files["garbage"][0].write_text("not a creds file\n")
    files["seed only"][0].write_text(text[seed_at:])
    files["jwt only"][0].write_text(text[:seed_at])
    seed_line = text[seed_at:].splitlines()[1]
    files["bad seed"][0].write_text(text.replace(seed_line, "SUAXXXXXXXXXXXXXXXXXXXXXXX"))
    files["empty"][0].write_bytes(b"")
    files["binary"][0].write_bytes(os.urandom(4096).replace(b"-", b"_"))
    return files


@pytest.mark.parametrize("kind", ["handler", "collector"])
def test_a_bad_creds_file_is_a_config_error_naming_plugin_key_and_file(
    kind: str, tmp_path: Path, good: Path
) -> None:
    where = "handler.out" if kind == "handler" else "collector.bus"
    for name, (path, words) in garbled(tmp_path, good).items():
        found = problems(config(kind, "creds", path))
        assert len(found) == 1, (name, found)
        assert "p.yml:" in found[0] and f"{where}.creds: " in found[0], (name, found)
        assert str(path) in found[0] and words in found[0], (name, found)
    # the good one passes
    spec = parse_config(config(kind, "creds", good), REG, file="p.yml")
    assert any(i.name in ("out", "bus") for i in spec.instances)


def test_a_bad_nkey_seed_file_is_a_config_error(tmp_path: Path, good: Path) -> None:
    import nkeys

    cases = {
        tmp_path / "none.nk": "cannot read",
        tmp_path / "text.nk": "holds no nkey seed",
        tmp_path / "account.nk": "holds the nkey seed of no user",
    }
    (tmp_path / "text.nk").write_text("not a seed\n")
    (tmp_path / "account.nk").write_bytes(KeyPair.create(nkeys.PREFIX_BYTE_ACCOUNT).seed)
    (tmp_path / "creds.nk").write_bytes(good.read_bytes())  # a creds file is no seed file
    cases[tmp_path / "creds.nk"] = "holds no nkey seed"
    for path, words in cases.items():
        found = problems(config("handler", "nkey-seed", path))
        assert len(found) == 1 and "handler.out.nkey-seed: " in found[0], found
        assert str(path) in found[0] and words in found[0], found
    seed = tmp_path / "ok.nk"
    seed.write_bytes(user_seed() + b"\n")
    parse_config(config("handler", "nkey-seed", seed), REG, file="p.yml")
    assert read_seed(str(seed)).startswith(b"SU")


def test_read_creds_gives_the_jwt_and_seed_of_a_good_file(good: Path) -> None:
    jwt, seed = read_creds(str(good))
    assert jwt.count(b".") == 2 and jwt in good.read_bytes()
    assert seed.startswith(b"SU") and seed in good.read_bytes()


def test_a_creds_file_gone_bad_after_start_is_a_connection_error_nats_py_retries(
    tmp_path: Path, good: Path
) -> None:
    """Read at every connection: a file garbled since start raises CredsError (a
    ``nats.errors.Error``: a failed attempt nats-py reports and retries), never spins."""
    import nats.errors

    path = tmp_path / "rotating.creds"
    path.write_bytes(good.read_bytes())
    cb = _creds_callbacks(str(path))
    assert cb["user_jwt_cb"]() == read_creds(str(good))[0]
    assert len(cb["signature_cb"]("nonce")) == 88  # base64 of an ed25519 signature
    text = good.read_text()
    path.write_text(text[text.index("-----BEGIN USER NKEY SEED") :])
    with pytest.raises(CredsError, match=r"creds: .*rotating\.creds holds no user JWT"):
        cb["user_jwt_cb"]()
    assert issubclass(CredsError, nats.errors.Error)
    path.unlink()
    with pytest.raises(CredsError, match=r"creds: cannot read .*rotating\.creds"):
        cb["signature_cb"]("nonce")


def test_qframe_validate_exits_2_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.creds"
    bad.write_text("garbage\n")
    cfg = tmp_path / "q.yml"
    cfg.write_text(config("handler", "creds", bad))
    res = subprocess.run(
        [sys.executable, "-m", "qframe", "validate", "-c", str(cfg)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2, res
    assert f"handler.out.creds: {bad} holds no user JWT" in res.stderr, res.stderr
