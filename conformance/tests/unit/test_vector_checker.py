"""vectors/check.py: format checks, per-file counts, the final line and the exit status."""

import importlib.util
import json
from pathlib import Path

import pytest

CHECK = Path(__file__).resolve().parents[3] / "vectors" / "check.py"


@pytest.fixture(scope="module")
def check():
    spec = importlib.util.spec_from_file_location("vector_check", CHECK)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _write(d: Path, name: str, tests: list, notes=None):
    doc = {"algorithm": name, "source": "unit test", "generator": "hand", "numberOfTests": len(tests),
           "notes": notes or {}, "tests": tests}
    (d / f"{name}.json").write_text(json.dumps(doc, ensure_ascii=False))


def _hkdf_case(tc, okm):
    return {"tc_id": tc, "label": f"l{tc}", "comment": "", "flags": [], "result": "valid", "ikm": "0b" * 22,
            "salt": "000102030405060708090a0b0c", "info": "f0f1f2f3f4f5f6f7f8f9", "length": 42, "okm": okm,
            "requirements": ["R-CRY-KEY-9"]}


RFC5869_1 = "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"


def test_good_file_passes(check, tmp_path, capsys):
    _write(tmp_path, "hkdf", [_hkdf_case(1, RFC5869_1)])
    _write(tmp_path, "json-stringify", [{"tc_id": 1, "label": "a", "comment": "", "flags": [], "result": "valid",
                                          "input": '{"1":1,"b":[1e21]}', "output": '{"1":1,"b":[1e+21]}',
                                          "requirements": ["R-CRY-JSON-1"]}])
    assert check.main(["check.py", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "hkdf.json: 1 passed, 0 failed" in out and out[-1] == "2 passed, 0 failed"


def test_wrong_value_fails(check, tmp_path, capsys):
    _write(tmp_path, "hkdf", [_hkdf_case(1, RFC5869_1), _hkdf_case(2, "00" + RFC5869_1[2:])])
    assert check.main(["check.py", str(tmp_path)]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == "1 passed, 1 failed"


def test_unknown_layer_and_bad_header_fail(check, tmp_path, capsys):
    _write(tmp_path, "mystery", [_hkdf_case(1, RFC5869_1)])
    (tmp_path / "broken.json").write_text("{")
    assert check.main(["check.py", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "mystery.json: unknown layer" in out and "broken.json: unreadable" in out


def test_header_rules(check, tmp_path, capsys):
    bad = _hkdf_case(1, RFC5869_1)
    bad["tc_id"] = 7  # tc_ids must be 1, 2, 3, ...
    _write(tmp_path, "hkdf", [bad])
    assert check.main(["check.py", str(tmp_path)]) == 1
    flagged = _hkdf_case(1, RFC5869_1)
    flagged["flags"] = ["NotInNotes"]
    _write(tmp_path, "hkdf", [flagged])
    assert check.main(["check.py", str(tmp_path)]) == 1


def test_seed_derivation(check):
    import hashlib

    assert check.seed("vc", "x") == hashlib.sha256(b"harmony-vectors/vc/x").digest()
    assert check.derive("vc", "x", "nonce") == hashlib.sha256(b"harmony-vectors/vc/x/nonce").digest()


def test_case_without_requirement_ids_fails(check, tmp_path, capsys):
    case = _hkdf_case(1, RFC5869_1)
    del case["requirements"]
    _write(tmp_path, "hkdf", [case])
    assert check.main(["check.py", str(tmp_path)]) == 1
    assert "requirements missing or empty" in capsys.readouterr().out
