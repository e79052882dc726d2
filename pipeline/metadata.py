"""Who each call belongs to: agent, team, queue/campaign and start time (pure parsing and checks).

Two sources, both keyed by the recording's file name (no folder):

- a sidecar file, CSV (a header row, then one call a line) or JSON (an array of objects, or JSON
  lines), with the columns ``call_file``, ``agent_id``, ``team``, ``queue``, ``started_at``
  (aliases below); a bad line is reported with its line number and the good lines are kept;
- a file-name pattern such as ``{date}_{agent}_{callid}.wav``, for sites that name recordings
  after the call.

An empty ``agent_id`` is allowed: the call is processed and shown as unassigned. Times without a
zone are taken as UTC and stored as naive UTC, like every other timestamp in the database.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, Field, field_validator

# Accepted column names, first one is the canonical name.
COLUMNS: dict[str, tuple[str, ...]] = {
    "file_name": ("call_file", "file", "file_name", "filename", "recording"),
    "agent_id": ("agent_id", "agent"),
    "team": ("team",),
    "queue_name": ("queue", "queue_name", "campaign"),
    "started_at": ("started_at", "start_time", "started"),
}
MAX_VALUE_CHARS = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class CallMetadata:
    """Who one recording belongs to; ``None`` where not known (no agent = unassigned)."""

    file_name: str
    agent_id: str | None = None
    team: str | None = None
    queue_name: str | None = None
    started_at: datetime | None = None


@dataclass(frozen=True)
class BadLine:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class MetadataFile:
    """A parsed sidecar: the usable rows and, for each line that was not, its number and why."""

    path: str
    rows: list[CallMetadata] = field(default_factory=list)
    bad_lines: list[BadLine] = field(default_factory=list)


class MetadataError(ValueError):
    """The whole file cannot be used (unreadable, no file-name column, not CSV/JSON)."""


def read_metadata(path: str | Path) -> MetadataFile:
    """Parse a CSV or JSON sidecar file; raises ``MetadataError`` only when nothing in it can be used."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise MetadataError(f"{path}: cannot read metadata file: {exc}") from exc
    if path.suffix.lower() in {".json", ".jsonl", ".ndjson"} or text.lstrip().startswith(
        ("[", "{")
    ):
        return parse_json(text, str(path))
    return parse_csv(text, str(path))


def parse_csv(text: str, source: str = "<csv>") -> MetadataFile:
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise MetadataError(f"{source}: empty metadata file (expected a header row)") from None
    except csv.Error as exc:
        raise MetadataError(f"{source}: line 1: {exc}") from exc
    columns = _column_map([name.strip().lower() for name in header], source)
    result = MetadataFile(source)
    seen: dict[str, int] = {}
    line = reader.line_num
    while True:
        start_line = line + 1
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            result.bad_lines.append(BadLine(start_line, f"unreadable CSV: {exc}"))
            line = reader.line_num
            continue
        line = reader.line_num
        if not values or all(not value.strip() for value in values):
            continue
        if len(values) > len(header):
            result.bad_lines.append(
                BadLine(start_line, f"{len(values)} fields, the header has {len(header)}")
            )
            continue
        record = {
            name: values[index] if index < len(values) else "" for name, index in columns.items()
        }
        _add(result, record, start_line, seen)
    return result


def parse_json(text: str, source: str = "<json>") -> MetadataFile:
    """A JSON array of objects (line numbers are where each object starts) or JSON lines."""
    result = MetadataFile(source)
    seen: dict[str, int] = {}
    stripped = text.lstrip()
    if stripped.startswith("["):
        for line, item in _array_items(text):
            if isinstance(item, BadLine):
                result.bad_lines.append(item)
            else:
                _add_json_item(result, item, line, seen)
        return result
    for number, line_text in enumerate(text.splitlines(), start=1):
        if not line_text.strip():
            continue
        try:
            item = json.loads(line_text)
        except json.JSONDecodeError as exc:
            result.bad_lines.append(BadLine(number, f"not valid JSON: {exc.msg}"))
            continue
        _add_json_item(result, item, number, seen)
    return result


class FileNamePattern:
    """``{date}_{agent}_{callid}.wav``-style names: fields ``agent``, ``team``, ``queue``, ``date``
    (YYYY-MM-DD or YYYYMMDD), ``time`` (HHMMSS, HH-MM-SS or HH.MM.SS), and ``callid``/``ext``/``any``
    (matched, not kept). Everything else in the pattern is literal."""

    FIELDS: ClassVar[dict[str, str]] = {
        "agent": r".+?",
        "team": r".+?",
        "queue": r".+?",
        "callid": r".+?",
        "any": r".*?",
        "ext": r"[A-Za-z0-9]+",
        "date": r"\d{4}-\d{2}-\d{2}|\d{8}",
        "time": r"\d{2}[-.]?\d{2}[-.]?\d{2}",
    }

    def __init__(self, pattern: str):
        self.text = pattern
        parts: list[str] = []
        position = 0
        used: set[str] = set()
        for match in re.finditer(r"\{(\w*)\}", pattern):
            name = match.group(1)
            if name not in self.FIELDS:
                known = ", ".join("{" + n + "}" for n in self.FIELDS)
                raise ValueError(
                    f"file-name pattern {pattern!r}: unknown field {{{name}}} (known: {known})"
                )
            if name in used:
                raise ValueError(f"file-name pattern {pattern!r}: field {{{name}}} appears twice")
            used.add(name)
            parts.append(re.escape(pattern[position : match.start()]))
            parts.append(f"(?P<{name}>{self.FIELDS[name]})")
            position = match.end()
        parts.append(re.escape(pattern[position:]))
        if not used & {"agent", "team", "queue", "date"}:
            raise ValueError(
                f"file-name pattern {pattern!r}: names none of {{agent}}, {{team}}, {{queue}}, {{date}}"
            )
        self._regex = re.compile("".join(parts))

    def match(self, file_name: str) -> CallMetadata | None:
        """The metadata in this file name, or None when the name does not follow the pattern."""
        name = _base_name(file_name)
        found = self._regex.fullmatch(name) or self._regex.fullmatch(Path(name).stem)
        if found is None:
            return None
        values = found.groupdict()
        started_at = None
        if values.get("date"):
            digits = values["date"].replace("-", "") + re.sub(
                r"\D", "", values.get("time") or "000000"
            )
            try:
                started_at = datetime.strptime(digits, "%Y%m%d%H%M%S")
            except ValueError:
                return None
        return CallMetadata(
            file_name=name,
            agent_id=values.get("agent") or None,
            team=values.get("team") or None,
            queue_name=values.get("queue") or None,
            started_at=started_at,
        )

    def __repr__(self) -> str:
        return f"FileNamePattern({self.text!r})"


SIDECAR_NAMES = ("metadata.csv", "metadata.json", "metadata.jsonl")


def sidecars_in(paths: list[str]) -> list[Path]:
    """The sidecar files lying in the folders given to a run (``metadata.csv`` beside the recordings)."""
    found = []
    for path in map(Path, paths):
        if path.is_dir():
            found.extend(path / name for name in SIDECAR_NAMES if (path / name).is_file())
    return found


def parse_started_at(value: str) -> datetime:
    """ISO 8601 (``2026-11-02T09:14:05Z``, with or without zone, or a date) -> naive UTC."""
    text = value.strip()
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _base_name(file_name: str) -> str:
    return re.split(r"[/\\]", file_name.strip())[-1]


def _column_map(header: list[str], source: str) -> dict[str, int]:
    columns: dict[str, int] = {}
    for canonical, aliases in COLUMNS.items():
        for alias in aliases:
            if alias in header:
                columns[canonical] = header.index(alias)
                break
    if "file_name" not in columns:
        raise MetadataError(
            f"{source}: line 1: no file-name column (expected one of {', '.join(COLUMNS['file_name'])}); "
            f"found {', '.join(header) or 'nothing'}"
        )
    return columns


def _add_json_item(result: MetadataFile, item: object, line: int, seen: dict[str, int]) -> None:
    if not isinstance(item, dict):
        result.bad_lines.append(BadLine(line, f"expected an object, found {type(item).__name__}"))
        return
    lowered = {str(key).strip().lower(): value for key, value in item.items()}
    record: dict[str, str] = {}
    for canonical, aliases in COLUMNS.items():
        for alias in aliases:
            if alias in lowered and lowered[alias] is not None:
                value = lowered[alias]
                if isinstance(value, (dict, list)):
                    result.bad_lines.append(
                        BadLine(line, f"{alias}: expected text, found {type(value).__name__}")
                    )
                    return
                record[canonical] = str(value)
                break
    _add(result, record, line, seen)


def _add(result: MetadataFile, record: dict[str, str], line: int, seen: dict[str, int]) -> None:
    """Check one record and keep it, or note the line as bad."""
    cleaned: dict[str, str | None] = {}
    for name in ("file_name", "agent_id", "team", "queue_name", "started_at"):
        value = (record.get(name) or "").strip()
        if _CONTROL.search(value):
            result.bad_lines.append(BadLine(line, f"{name}: control characters are not allowed"))
            return
        if len(value) > MAX_VALUE_CHARS:
            result.bad_lines.append(
                BadLine(line, f"{name}: longer than {MAX_VALUE_CHARS} characters")
            )
            return
        cleaned[name] = value or None
    if not cleaned["file_name"]:
        result.bad_lines.append(BadLine(line, "no file name"))
        return
    file_name = _base_name(cleaned["file_name"])
    if not file_name:
        result.bad_lines.append(
            BadLine(line, f"file name {cleaned['file_name']!r} ends in a folder separator")
        )
        return
    if file_name in seen:
        result.bad_lines.append(
            BadLine(line, f"{file_name}: listed again (first on line {seen[file_name]})")
        )
        return
    started_at = None
    if cleaned["started_at"]:
        try:
            started_at = parse_started_at(cleaned["started_at"])
        except ValueError:
            result.bad_lines.append(
                BadLine(
                    line,
                    f"started_at {cleaned['started_at']!r} is not an ISO 8601 time (e.g. 2026-11-02T09:14:05Z)",
                )
            )
            return
    seen[file_name] = line
    result.rows.append(
        CallMetadata(
            file_name, cleaned["agent_id"], cleaned["team"], cleaned["queue_name"], started_at
        )
    )


def _array_items(text: str):
    """Yield (line, item) for each element of a top-level JSON array, with the line it starts on;
    a ``BadLine`` as the last item where the array breaks (the rest cannot be read reliably)."""
    decoder = json.JSONDecoder()
    position = text.index("[") + 1
    length = len(text)
    expect_item = True
    while True:
        while position < length and text[position] in " \t\r\n":
            position += 1
        line = text.count("\n", 0, position) + 1
        if position >= length:
            yield line, BadLine(line, "the JSON array is not closed with ]")
            return
        if text[position] == "]":
            return
        if text[position] == "," and not expect_item:
            position += 1
            expect_item = True
            continue
        try:
            item, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            bad_line = text.count("\n", 0, exc.pos) + 1
            yield (
                bad_line,
                BadLine(
                    bad_line,
                    f"not valid JSON ({exc.msg}); the entries after it were not read (JSON lines avoid this)",
                ),
            )
            return
        expect_item = False
        yield line, item


class MetadataOptions(BaseModel):
    """Who a call belongs to, when no sidecar file says so: read from the recording's file name."""

    name_pattern: str | None = Field(
        None, description="e.g. '{date}_{agent}_{callid}.wav'; fields agent, team, queue, date, time, callid, ext, any"
    )

    @field_validator("name_pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value:
            FileNamePattern(value)
        return value or None
