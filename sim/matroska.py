"""A tiny EBML writer: the Matroska elements the sim builds (fragments' tags, test documents).

Reading is the deployed reader's (``chalicelib/adapters/speech/mkv.py``: ``iter_elements`` and
its element ids); this side only writes.
"""

from __future__ import annotations

from chalicelib.adapters.speech.mkv import SIMPLE_TAG, TAG, TAG_NAME, TAG_STRING, TAGS

TARGETS, MUXING_APP, WRITING_APP = 0x63C0, 0x4D80, 0x5741
UNKNOWN_SIZE = b"\x01\xff\xff\xff\xff\xff\xff\xff"


def element(element_id: int, payload: bytes) -> bytes:
    """One EBML element: its id, its size (a minimal variable-size integer), its payload."""
    return id_bytes(element_id) + size_vint(len(payload)) + payload


def size_vint(size: int) -> bytes:
    """``size`` as an EBML variable-size integer of the fewest bytes (all-ones is reserved)."""
    for length in range(1, 9):
        if size < (1 << (7 * length)) - 1:
            return ((1 << (7 * length)) | size).to_bytes(length, "big")
    raise ValueError(f"size {size} does not fit an EBML integer")


def uint_element(element_id: int, value: int) -> bytes:
    """An unsigned integer element, in the fewest bytes (at least one)."""
    return element(element_id, value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


def text_element(element_id: int, value: str) -> bytes:
    """A UTF-8 string element."""
    return element(element_id, value.encode())


def tags_element(tags: dict[str, str]) -> bytes:
    """A Tags element with one Tag (empty Targets: the whole segment) holding ``tags``."""
    simple = b"".join(
        element(SIMPLE_TAG, text_element(TAG_NAME, name) + text_element(TAG_STRING, value))
        for name, value in tags.items()
    )
    return element(TAGS, element(TAG, element(TARGETS, b"") + simple))


def id_bytes(element_id: int) -> bytes:
    """An element id's bytes (its length marker is part of the id)."""
    return element_id.to_bytes((element_id.bit_length() + 7) // 8, "big")
