"""The README stays true: every setting is documented, and the two set-up commands exist."""

from __future__ import annotations

import re

from taskpilot.core.config import PROJECT_ROOT, Settings

README = (PROJECT_ROOT / "README.md").read_text()


def test_every_setting_is_in_the_readme_table() -> None:
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", README, flags=re.MULTILINE))
    expected = {name.upper() for name in Settings.model_fields}
    assert expected - documented == set(), "undocumented settings"
    assert documented - expected == set(), "documented settings that do not exist"


def test_set_up_commands_are_make_targets() -> None:
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    for target in re.findall(r"^make (\w+)\s", README, flags=re.MULTILINE):
        assert re.search(rf"^{target}:", makefile, flags=re.MULTILINE), target
    ci = (PROJECT_ROOT / ".ci" / "run").read_text()
    assert "make test" in ci  # CI runs the README's test command
