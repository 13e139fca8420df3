"""The keyboard shortcuts are written once (`SHORTCUTS`): the help sheet shows them and
`assets/shortcuts.js` reads their keys from the sheet's trigger; the script only names what
each command does. (The keys themselves are pressed in Chromium: test_keyboard.py.)"""

from __future__ import annotations

import json
import re

from taskpilot.core.config import PROJECT_ROOT
from taskpilot.web.components.shortcuts_dialog import MOD, SHIFT, SHORTCUTS, key_table


def test_the_script_reads_every_commanded_shortcut_from_the_table() -> None:
    table = json.loads(key_table())
    assert table == [
        {"command": "new-chat", "mod": True, "shift": True, "key": "O"},
        {"command": "focus-composer", "mod": False, "shift": True, "key": "Esc"},
        {"command": "search", "mod": True, "shift": False, "key": "K"},
        {"command": "stop", "mod": False, "shift": False, "key": "Esc"},
        {"command": "help", "mod": True, "shift": False, "key": "/"},
    ]
    # The composer's own keys are on the sheet, not in the script's table.
    assert [s.action for s in SHORTCUTS if not s.command] == [
        "Send the message",
        "New line in the message",
    ]
    assert all(s.keys[-1] not in (MOD, SHIFT) for s in SHORTCUTS)
    script = (PROJECT_ROOT / "assets" / "shortcuts.js").read_text()
    commands = re.search(r"const COMMANDS = \{(.*?)\n  \};", script, re.DOTALL)
    assert commands is not None
    defined = set(re.findall(r'^\s*"?([a-z-]+)"?:', commands.group(1), re.MULTILINE))
    assert defined == {row["command"] for row in table}
