"""Reading card-key imports (pasted text, .txt, CSV, XLSX) into canonical key strings.

Every format ends in the same rule per line (a CSV or sheet row counts as one line):

- fields are separated by `----` (four or more dashes), `|`, `,`, the full-width comma
  (U+FF0C), tabs or runs of whitespace (full-width spaces included); a CSV or sheet cell is
  split the same way;
- one field is a key, kept as it is; two fields are a card number and its password, and the
  canonical key is `"<number> <password>"` (one ASCII space). So `123----abc`, `123,abc`,
  `123 | abc`, a two-column CSV row and a one-cell row holding `123 abc` all give the same key,
  and the vault sees them as the same card;
- an empty line is skipped silently; a line with three or more fields, an empty field, a control
  or invisible character, or more than `MAX_LINE_LENGTH` characters is malformed (reported by
  line number and reason, never by content: the content is a secret);
- a key that repeats an earlier one of the same import is a duplicate (the first one counts).

Text is UTF-8 (with or without a BOM), else GB18030 (files from Chinese suppliers); UTF-16 with
a BOM (Excel's "Unicode text") is read too. CSV and XLSX may start with a header row, skipped
when every cell of the first non-empty row looks like a column title (`HEADER_WORDS`, or
Chinese text without digits). XLSX reads the first sheet of the workbook.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import IO

from django.core.exceptions import ValidationError

from shared.vault.models import ImportSource

MAX_LINE_LENGTH = 512
# Excel keeps 15 significant digits: a larger number typed into a cell has already lost digits.
EXCEL_EXACT_INTEGER_LIMIT = 10**15

TOO_MANY_FIELDS = "too_many_fields"
EMPTY_FIELD = "empty_field"
CONTROL_CHARACTER = "control_character"
TOO_LONG = "too_long"
NUMBER_CELL = "number_cell"
UNSUPPORTED_CELL = "unsupported_cell"

REASONS = {
    TOO_MANY_FIELDS: "three or more fields (expected a key, or a card number and a password)",
    EMPTY_FIELD: "an empty field between separators",
    CONTROL_CHARACTER: "a control or invisible character",
    TOO_LONG: f"longer than {MAX_LINE_LENGTH} characters",
    NUMBER_CELL: "a fraction or a number of 16+ digits in a number cell (store numbers as text)",
    UNSUPPORTED_CELL: "a date, time or true/false cell",
}

HEADER_WORDS = frozenset(
    {"key", "keys", "cardkey", "cdkey", "card", "cards", "cardno", "cardnumber", "number", "no",
     "serial", "serialno", "serialnumber", "sn", "code", "codes", "redeemcode", "giftcode",
     "pin", "password", "pass", "passwd", "pwd", "passcode", "secret", "account",
     "卡号", "卡密", "密码", "卡密码", "账号", "帐号", "序列号", "兑换码", "激活码", "充值码",
     "充值卡号", "充值卡密", "礼品码", "卡券", "卡"}
)  # fmt: skip

# Explicit separators become NUL (never in an accepted line: it is a control character), then
# fields are split on NUL and on whitespace with str methods, which are several times faster
# than a regex split on a million-line import.
_EXPLICIT_SEPARATORS = ("|", ",", "\uff0c")
_DASHES = re.compile("-{4,}")
_MARK = "\x00"
# C0/C1 controls (tab is a separator) and characters that are invisible in a text editor.
_CONTROL_CLASS = "\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff"
_CONTROL = re.compile(f"[{_CONTROL_CLASS}\n]")
_CONTROL_IN_TEXT = re.compile(f"[{_CONTROL_CLASS}]")  # a whole text, whose lines end in \n
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_HEADER_STRIP = re.compile("[\\s_\\-.#/:()\uff1a\uff08\uff09]+")


@dataclass
class ParsedImport:
    """The outcome of reading one import. Never put `keys` in a log line or an exception."""

    keys: list[str] = field(default_factory=list, repr=False)
    key_lines: list[int] = field(default_factory=list, repr=False)
    malformed: list[tuple[int, str]] = field(default_factory=list)
    duplicate_lines: list[int] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set, init=False, repr=False)

    @property
    def line_count(self) -> int:
        """Non-empty lines read (header excluded): keys + malformed + duplicates."""
        return len(self.keys) + len(self.malformed) + len(self.duplicate_lines)

    def _add(self, line: int, fields: Sequence[str]) -> None:
        if len(fields) > 2:
            self.malformed.append((line, TOO_MANY_FIELDS))
            return
        key = fields[0] if len(fields) == 1 else f"{fields[0]} {fields[1]}"
        if key in self._seen:
            self.duplicate_lines.append(line)
            return
        self._seen.add(key)
        self.keys.append(key)
        self.key_lines.append(line)


def parse_import(content: str | bytes | IO[bytes], *, source: str) -> ParsedImport:
    """Read an import of the given `ImportSource`; raises ValidationError if unreadable."""
    if source == ImportSource.XLSX:
        if isinstance(content, str):
            raise ValidationError("An Excel import must be a file.", code="unreadable")
        return parse_xlsx(content)
    if source not in ImportSource.values:
        raise ValidationError(f"Unknown import source {source!r}.", code="source")
    if not isinstance(content, str):
        raw = content if isinstance(content, bytes) else content.read()
        content = decode_text(raw)
    return parse_csv(content) if source == ImportSource.CSV else parse_text(content)


def decode_text(data: bytes) -> str:
    """UTF-8 (BOM tolerated), UTF-16 with a BOM, else GB18030."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings: tuple[str, ...] = ("utf-16",)
    else:
        encodings = ("utf-8-sig", "gb18030")
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    # Nothing chained: UnicodeDecodeError quotes the offending bytes, and they are secret.
    raise ValidationError("The file is neither UTF-8 nor GB18030 text.", code="encoding")


def _normalise_newlines(text: str) -> str:
    """`\r\n`, `\r` and `\n` end a line, nothing else does (no vertical tab, form feed ...)."""
    text = text.removeprefix("\ufeff")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _fields(value: str, *, check_controls: bool = True) -> list[str] | str:
    """The fields of one stripped line or cell, or the reason it is malformed."""
    if len(value) > MAX_LINE_LENGTH:
        return TOO_LONG
    if check_controls and _CONTROL.search(value):
        return CONTROL_CHARACTER
    if "|" in value or "," in value or "\uff0c" in value or "----" in value:
        return _split_explicit(value)
    return value.split()


def _split_explicit(value: str) -> list[str] | str:
    """Fields of a value holding `----`, `|` or a comma; an empty one makes it malformed."""
    if "-----" in value or "|" in value or "," in value or "\uff0c" in value:
        value = _DASHES.sub(_MARK, value) if "-----" in value else value.replace("----", _MARK)
        for separator in _EXPLICIT_SEPARATORS:
            value = value.replace(separator, _MARK)
        parts = value.split(_MARK)
    else:  # only `----`, the usual card----password line
        parts = value.split("----")
    while parts and not parts[-1].strip():  # trailing separators, as spreadsheets often export
        parts.pop()
    if not parts:  # nothing but separators
        return EMPTY_FIELD
    fields: list[str] = []
    for part in parts:
        words = part.split()
        if not words:
            return EMPTY_FIELD
        fields.extend(words)
    return fields


def parse_text(text: str) -> ParsedImport:
    """Pasted text or a .txt file: one key, or one card number and password, per line."""
    parsed = ParsedImport()
    text = _normalise_newlines(text)
    # One scan of the whole text; lines are checked one by one only if it finds something.
    check_controls = _CONTROL_IN_TEXT.search(text) is not None
    # `ParsedImport._add` and the plain case of `_fields`, inlined: this loop runs once per
    # line of imports of millions of lines.
    seen, keys, key_lines = parsed._seen, parsed.keys, parsed.key_lines
    malformed, duplicates = parsed.malformed, parsed.duplicate_lines
    for number, raw_line in enumerate(text.split("\n"), start=1):
        line = raw_line.strip()
        if not line:
            continue
        if check_controls or len(line) > MAX_LINE_LENGTH or "," in line or "|" in line:
            fields = _fields(line, check_controls=check_controls)
        elif "----" in line or "\uff0c" in line:
            fields = _split_explicit(line)
        else:
            fields = line.split()
        if isinstance(fields, str):
            malformed.append((number, fields))
            continue
        if len(fields) == 1:
            key = fields[0]
        elif len(fields) == 2:
            key = fields[0] + " " + fields[1]
        else:
            malformed.append((number, TOO_MANY_FIELDS))
            continue
        if key in seen:
            duplicates.append(number)
        else:
            seen.add(key)
            keys.append(key)
            key_lines.append(number)
    return parsed


def _row_fields(cells: Sequence[str]) -> list[str] | str:
    """The fields of a CSV or sheet row (trailing empty cells ignored), or why it is malformed."""
    cells = list(cells)
    while cells and not cells[-1]:
        cells.pop()
    if sum(len(cell) for cell in cells) > MAX_LINE_LENGTH:
        return TOO_LONG
    fields: list[str] = []
    for cell in cells:
        if not cell:
            return EMPTY_FIELD
        cell_fields = _fields(cell)
        if isinstance(cell_fields, str):
            return cell_fields
        fields.extend(cell_fields)
    return fields


def looks_like_header(cells: Sequence[str]) -> bool:
    """Whether a CSV or sheet row is a row of column titles (`卡号, 密码`, `card, password`)."""
    titles = [cell for cell in cells if cell]
    return bool(titles) and all(
        _HEADER_STRIP.sub("", title.lower()) in HEADER_WORDS
        or (_CJK.search(title) is not None and not any(ch.isdigit() for ch in title))
        for title in titles
    )


def _parse_rows(rows: Iterable[tuple[int, Sequence[str] | str]]) -> ParsedImport:
    """Rows as (line number, stripped cells, or a malformed reason)."""
    parsed = ParsedImport()
    first = True
    for number, cells in rows:
        if isinstance(cells, str):
            parsed.malformed.append((number, cells))
            first = False
            continue
        if not any(cells):
            continue
        if first:
            first = False
            if looks_like_header(cells):
                continue
        fields = _row_fields(cells)
        if isinstance(fields, str):
            parsed.malformed.append((number, fields))
        else:
            parsed._add(number, fields)
    return parsed


def parse_csv(text: str) -> ParsedImport:
    """CSV: one column (the key) or two (card number, password); an optional header row."""
    text = text.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))

    def rows() -> Iterator[tuple[int, Sequence[str]]]:
        try:
            for row in reader:
                yield reader.line_num, [cell.strip() for cell in row]
        except csv.Error as exc:
            raise ValidationError(
                f"The CSV file cannot be read past line {reader.line_num}.", code="unreadable"
            ) from exc

    return _parse_rows(rows())


class _UnusableCell(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


def _cell_text(value: object) -> str:
    """A sheet cell as text; raises _UnusableCell if its value cannot be part of a key."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool | datetime | date | time | timedelta):
        raise _UnusableCell(UNSUPPORTED_CELL)
    # A number cell is a key only if it is a whole number Excel holds exactly: a longer card
    # number typed into a number cell has already been rounded, and would be a wrong key.
    if (
        isinstance(value, int | float)
        and abs(value) < EXCEL_EXACT_INTEGER_LIMIT
        and float(value).is_integer()
    ):
        return str(int(value))
    raise _UnusableCell(NUMBER_CELL)


def parse_xlsx(content: bytes | IO[bytes]) -> ParsedImport:
    """The first sheet of an .xlsx workbook, read-only; same column rules as CSV."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    stream = io.BytesIO(content) if isinstance(content, bytes) else content
    try:
        workbook = load_workbook(stream, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ValidationError(
            "The file is not a readable .xlsx workbook.", code="unreadable"
        ) from exc
    try:
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # some writers record wrong dimensions; read what is there

        def rows() -> Iterator[tuple[int, Sequence[str] | str]]:
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                try:
                    yield number, [_cell_text(value) for value in values]
                except _UnusableCell as exc:
                    yield number, exc.reason

        return _parse_rows(rows())
    finally:
        workbook.close()
