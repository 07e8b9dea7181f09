"""Bytes of an untrusted file to text: byte-order marks, UTF-8, a Windows-1252 fallback, and what is binary.

Latin-1 and Windows-1252 files (old exports, Windows editors) are read as Windows-1252 when
they hold no UTF-8 multi-byte sequence at all; a file that mixes valid UTF-8 with bytes that
are not is damaged, not legacy, and is refused with the offset of the first bad byte.
"""

from __future__ import annotations

import codecs
import re

SNIFF_BYTES = 8192
# Longest first: the UTF-32 LE mark begins with the UTF-16 LE one.
BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)
UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
    rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}"
    rb"|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)
# Control characters other than tab, newline, carriage return, vertical tab and form feed.
CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
BINARY_CONTROL_SHARE = 0.05


class NotText(ValueError):
    """Bytes that are not text in an encoding we read; `reason` says which way."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def bom_of(data: bytes) -> tuple[str, str] | None:
    """(codec, name) of the byte-order mark the data starts with."""
    for bom, codec, name in BOMS:
        if data.startswith(bom):
            return codec, name
    return None


def looks_binary(data: bytes) -> bool:
    """NUL bytes near the start, unless a UTF-16/32 byte-order mark explains them."""
    found = bom_of(data)
    return b"\x00" in data[:SNIFF_BYTES] and (found is None or found[1] == "UTF-8")


def decode(data: bytes) -> tuple[str, str]:
    """The text and the codec it was read with; raises NotText with the reason otherwise."""
    found = bom_of(data)
    if found:
        codec, name = found
        try:
            text = data.decode(codec)
        except UnicodeDecodeError as exc:
            raise NotText(f"not valid {name} after its byte-order mark (byte {exc.start})") from exc
    elif b"\x00" in data[:SNIFF_BYTES]:
        raise NotText("binary file, not text")
    else:
        try:
            text, codec = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError as exc:
            if UTF8_MULTIBYTE.search(data):
                raise NotText(f"not valid UTF-8 (byte {exc.start})") from exc
            text, codec = _single_byte(data)
    sample = text[:SNIFF_BYTES]
    if sample and len(CONTROL.findall(sample)) > BINARY_CONTROL_SHARE * len(sample):
        raise NotText("binary file, not text")
    return text, codec


def _single_byte(data: bytes) -> tuple[str, str]:
    """Windows-1252 (a superset of Latin-1's printable range), else Latin-1, which maps every byte."""
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"
