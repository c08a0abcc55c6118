"""Texts and small helpers shared by the semantic tests."""

import iscc_core as ic

# About 60 tokens: one chunk of iscc-sct's 127-token window.
SHORT = "The International Standard Content Code identifies digital content by what it is. "
# Several thousand tokens: many chunks.
LONG = "".join(
    f"Paragraph {i}: the archive keeps letters, maps and photographs of the harbour town, "
    f"described by volunteers in {1900 + i} and catalogued again later.\n\n"
    for i in range(60)
)


def semantic_unit(result: dict) -> str:
    """The one Semantic-Code unit of a result's `units`."""
    found = [u for u in result["units"] if ic.iscc_decode(u)[0] == ic.MT.SEMANTIC]
    assert len(found) == 1, result["units"]
    return found[0]


def subtype(unit: str):
    return ic.iscc_decode(unit)[1]


def bits(unit: str) -> int:
    return len(ic.iscc_decode(unit)[4]) * 8
