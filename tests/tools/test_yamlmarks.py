"""Every YAML reader loads through harness.yamlmarks: no aliases, bounded nesting, a NUL is
one line at its file:line (issue 10, defect 9; A-YAML-SAFE)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import yamlmarks
from harness.pytest_plugin import session
from harness.sim.core import personality
from harness.sim.host import netconfig
from harness.xbee import firmware

CORPUS = Path(__file__).resolve().parents[1] / "badinputs" / "profiles"
BOMB = (CORPUS / "alias-bomb.yaml").read_text()


def test_an_alias_is_refused_where_it_stands() -> None:
    with pytest.raises(yamlmarks.YamlInputError) as info:
        yamlmarks.load(BOMB, "bomb.yaml")
    assert str(info.value).startswith("bomb.yaml:2:8: YAML alias *a is not allowed")


def test_an_anchor_alone_and_merge_of_an_inline_mapping_still_load() -> None:
    data, _ = yamlmarks.load("a: &x 1\nb: {<<: {c: 2}, d: 3}\n", "ok.yaml")
    assert data == {"a": 1, "b": {"c": 2, "d": 3}}


def test_nesting_is_bounded_not_a_recursion_error() -> None:
    text = "a: " + "[" * 5000 + "]" * 5000
    with pytest.raises(yamlmarks.YamlInputError, match=r"^deep.yaml:1:\d+: nested deeper"):
        yamlmarks.load(text, "deep.yaml")
    deep_enough = "a: " + "[" * (yamlmarks.MAX_DEPTH - 1) + "]" * (yamlmarks.MAX_DEPTH - 1)
    assert yamlmarks.load(deep_enough, "ok.yaml")[0] is not None


def test_a_nul_is_named_at_its_line_and_column() -> None:
    with pytest.raises(yamlmarks.YamlInputError, match=r"^n.yaml:2:4: character #x0000"):
        yamlmarks.load("a: 1\nb: \x00\n", "n.yaml")


def test_read_names_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_bytes(b"a: caf\xe9\n")
    with pytest.raises(yamlmarks.YamlInputError, match=r"b.yaml: not UTF-8 text \(byte 6\)"):
        yamlmarks.read(tmp_path / "b.yaml")


def test_line_of_follows_keys_and_indexes() -> None:
    _, node = yamlmarks.load("a:\n  b:\n    - x\n    - y: 1\n", "f.yaml")
    assert yamlmarks.line_of(node, ("a", "b", "1", "y")) == 4
    assert yamlmarks.line_of(node, ("a", "nope")) == 1
    assert yamlmarks.line_of(None, ("a",)) is None


def test_a_personality_with_an_alias_bomb_is_one_line() -> None:
    with pytest.raises(personality.PersonalityError, match=r"^bomb.yaml:2(:8)?: .*alias \*a"):
        personality.loads(BOMB, "bomb.yaml")


def test_a_personality_with_a_nul_is_one_line() -> None:
    with pytest.raises(personality.PersonalityError, match=r"^p.yaml:1(:\d+)?: .*#x0000"):
        personality.loads("product: x\x00\n", "p.yaml")


def test_a_network_config_with_an_alias_bomb_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "net.yaml"
    path.write_text(BOMB)
    with pytest.raises(netconfig.NetworkConfigError, match=r"net.yaml:2(:8)?: .*alias \*a"):
        netconfig.load_config(path)


def test_a_network_config_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "net.yaml"
    path.write_bytes(b"network:\n  latency: \xff\n")
    with pytest.raises(netconfig.NetworkConfigError, match=r"net.yaml: .*UTF-8"):
        netconfig.load_config(path)


def test_session_reads_personality_features_through_the_safe_loader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session, "PERSONALITY_DIR", tmp_path)
    (tmp_path / "bomb.yaml").write_text(BOMB + "features: [a]\n")
    assert session.personality_features("bomb") is None  # refused, not expanded
    (tmp_path / "ok.yaml").write_text("family: ltem-114\n")  # features come from the family
    assert session.personality_features("ok") == set(firmware.FAMILIES["ltem-114"].features)
