"""Commands that documentation shows in fenced `sh` blocks, read so that tests run them as written."""

from __future__ import annotations

import re

FENCE = re.compile(r"^```sh\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)


def sh_commands(text: str, marker: str, where: str = "README.md") -> list[str]:
    """The commands of the first `sh` block after marker, comments and blank lines dropped."""
    _, found, after = text.partition(marker)
    assert found, f"{where} has no {marker!r} before its commands"
    block = FENCE.search(after)
    assert block, f"no ```sh block follows {marker!r} in {where}"
    lines = (line.split(" #", 1)[0].strip() for line in block.group("body").splitlines())
    return [line for line in lines if line and not line.startswith("#")]
