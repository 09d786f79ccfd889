"""`itsm import FILE`: send CIs and relationships from CSV or JSON files through `importCis`.

The file formats are described in FORMAT_HELP (shown by `itsm import --help`).

Items go in batches; each batch also carries the relationships whose ends are all known by then:
an end among this batch's items is sent by key, one among earlier batches by the CI id the API
returned for it, and an end given as `sourceId`/`targetId` as is. Exit codes: 0 when nothing was
rejected, 1 when something was, 2 when a file could not be read or the API could not be used.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

FORMAT_HELP = """\
files:
  CSV of CIs (FILE ending in .csv): a header row, then one CI per row.
    ciClass, name     required: the CI's class (Server, Database, ...) and name
    key               optional: a name for the row that relationships refer to
    lifecycle, criticality, owner, description
                      optional fields of the CI
    any other column  an attribute of the CI's class (fqdn, serialNumber, os, ...)
    Empty cells are left out; values stay text ("007" stays "007").
      ciClass,name,key,fqdn,serialNumber
      Server,esx-01,s1,esx-01.dc1.example,SN-0001
      VirtualMachine,web-01,v1,web-01.dc1.example,

  CSV of relationships (--relationships FILE): a header row, then one per row.
    type              required: DEPENDS_ON, RUNS_ON, HOSTED_ON, ...
    source, target    the key of a CI in the CI file (the relationship goes source -> target)
    sourceId, targetId
                      or the id of a CI already in the CMDB, instead of a key
    any other column  an attribute of the relationship (redundancyGroup, minUp, weight, ...);
                      minUp and weight are read as numbers
      type,source,target,redundancyGroup,minUp
      HOSTED_ON,v1,s1,,

  Both CSV files: the delimiter is taken from the header row (comma, semicolon, tab or |)
  unless --delimiter is given; the encoding is UTF-8 (a byte-order mark is fine) unless
  --encoding is given (latin-1, cp1252, utf-16, ...).

  JSON (FILE ending in .json), the importCis input:
    {"items": [{"key": "s1", "ciClass": "Server", "name": "esx-01",
                "attributes": {"serialNumber": "SN-0001"}}, ...],
     "relationships": [{"sourceKey": "v1", "type": "HOSTED_ON", "targetKey": "s1",
                        "attributes": {"redundancyGroup": "g", "minUp": 1}}, ...]}
    sourceId/targetId instead of sourceKey/targetKey name CIs already in the CMDB.

exit codes: 0 nothing rejected, 1 something rejected, 2 a file or the API could not be used
"""

CORE_COLUMNS = ("key", "ciClass", "name", "lifecycle", "criticality", "owner", "description")
RELATIONSHIP_END_COLUMNS = {
    "source": "sourceKey",
    "target": "targetKey",
    "sourceId": "sourceId",
    "targetId": "targetId",
}
# The relationship attributes the CMDB takes as numbers; a cell that is not one stays text and
# the API says what is wrong with it.
NUMERIC_RELATIONSHIP_COLUMNS = {"minUp": int, "weight": float}
SNIFFED_DELIMITERS = (",", ";", "\t", "|")
DEFAULT_ENCODING = "utf-8-sig"
MAX_SHOWN_REJECTIONS = 20
TIMEOUT_SECONDS = 600.0
# The HTTP client logs every request at INFO, which would tear through the progress bar.
QUIET_LOGGERS = ("httpx", "httpcore")

IMPORT_MUTATION = """mutation($input: ImportCIsInput!) {
  importCis(input: $input) {
    dryRun created updated unchanged rejected
    items { index key ciId status error { field reason message } }
    relationships { index status error { field reason message } }
  }
}"""


class InputError(ValueError):
    """The file cannot be read as an import."""


class ApiError(RuntimeError):
    """The API could not be reached, refused the token, or answered with a GraphQL error."""


# -- reading -----------------------------------------------------------------------------------


def read_items(
    path: Path | str,
    *,
    relationships: Path | str | None = None,
    delimiter: str | None = None,
    encoding: str = DEFAULT_ENCODING,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The items and relationships in the files, in the `importCis` input shape.

    `path` is a .csv or .json file; `relationships` an optional CSV of relationships, added to
    those of a JSON file.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        items, rels = _read_csv_items(path, delimiter, encoding), []
    elif suffix == ".json":
        items, rels = _guarded(path, encoding, lambda: _read_json(path, encoding))
    else:
        raise InputError(f"{path}: the file name must end in .csv or .json")
    if relationships is not None:
        rels = rels + _read_csv_relationships(Path(relationships), delimiter, encoding)
    return items, rels


def _guarded(path: Path, encoding: str, read: Any) -> Any:
    """What `read()` returns, with its I/O and decoding failures said as an InputError."""
    try:
        return read()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeError as exc:
        detail = f"{exc.reason} at byte {exc.start}" if isinstance(exc, UnicodeDecodeError) else exc
        raise InputError(
            f"{path} is not {encoding} text ({detail}); "
            "give its encoding with --encoding, e.g. --encoding latin-1"
        ) from exc
    except LookupError as exc:
        raise InputError(f"unknown encoding {encoding!r}") from exc


def _sniff_delimiter(header: str) -> str:
    """The delimiter of a header row: the candidate it holds most of (column names do not
    contain one), a comma when it holds none."""
    counts = {d: header.count(d) for d in SNIFFED_DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _csv_rows(
    path: Path, delimiter: str | None, encoding: str, required: Sequence[Sequence[str]]
) -> Iterator[tuple[int, list[str], list[str]]]:
    """(line, columns, cells) of each non-blank row of a CSV file.

    `required` lists groups of columns of which the header needs at least one each.
    """
    text = _guarded(path, encoding, lambda: path.read_text(encoding=encoding))
    if delimiter is None:
        first = next((line for line in text.splitlines() if line.strip()), "")
        delimiter = _sniff_delimiter(first)
    elif len(delimiter) != 1:
        raise InputError(f"the delimiter must be one character, not {delimiter!r}")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise InputError(f"{path}, line {reader.line_num}: {exc}") from exc
    if header is None:
        return
    columns = [c.strip() for c in header]
    missing = [group for group in required if not any(c in columns for c in group)]
    if missing:
        needed = ", ".join(" or ".join(group) for group in missing)
        hint = ""
        others = [d for d in SNIFFED_DELIMITERS if d != delimiter and d in header[0]]
        if len(columns) == 1 and others:
            hint = f" (its columns look separated by {others[0]!r}: try --delimiter {others[0]!r})"
        raise InputError(
            f"{path}: the header needs the column(s) {needed}; "
            f"read with delimiter {delimiter!r} it has {columns}{hint}"
        )
    repeated = sorted({c for c in columns if c and columns.count(c) > 1})
    if repeated:
        raise InputError(f"{path}: repeated columns: {', '.join(repeated)}")
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue  # blank line
            if len(row) > len(columns):
                raise InputError(
                    f"{path}, line {reader.line_num}: {len(row)} cells for {len(columns)} columns"
                )
            yield reader.line_num, columns, row
    except csv.Error as exc:
        raise InputError(f"{path}, line {reader.line_num}: {exc}") from exc


def _cells(columns: list[str], row: list[str]) -> Iterator[tuple[str, str]]:
    """(column, value) of the row's non-empty cells."""
    for column, cell in zip(columns, row, strict=False):
        value = cell.strip()
        if column and value:
            yield column, value


def _read_csv_items(path: Path, delimiter: str | None, encoding: str) -> list[dict[str, Any]]:
    items = []
    for line, columns, row in _csv_rows(path, delimiter, encoding, [["ciClass"], ["name"]]):
        item: dict[str, Any] = {}
        attributes: dict[str, Any] = {}
        for column, value in _cells(columns, row):
            if column in CORE_COLUMNS:
                item[column] = value
            else:
                attributes[column] = value
        item.setdefault("ciClass", "")
        item.setdefault("name", "")
        if attributes:
            item["attributes"] = attributes
        item["_line"] = line
        items.append(item)
    return items


def _number(column: str, value: str) -> Any:
    convert = NUMERIC_RELATIONSHIP_COLUMNS.get(column)
    if convert is None:
        return value
    try:
        return convert(value)
    except ValueError:
        return value


def _read_csv_relationships(
    path: Path, delimiter: str | None, encoding: str
) -> list[dict[str, Any]]:
    required = [["type"], ["source", "sourceId"], ["target", "targetId"]]
    relationships = []
    for line, columns, row in _csv_rows(path, delimiter, encoding, required):
        rel: dict[str, Any] = {"type": ""}
        attributes: dict[str, Any] = {}
        for column, value in _cells(columns, row):
            if column == "type":
                rel["type"] = value
            elif column in RELATIONSHIP_END_COLUMNS:
                rel[RELATIONSHIP_END_COLUMNS[column]] = value
            else:
                attributes[column] = _number(column, value)
        if attributes:
            rel["attributes"] = attributes
        rel["_where"] = f"{path.name} line {line}"
        relationships.append(rel)
    return relationships


def _read_json(path: Path, encoding: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    try:
        data = json.loads(path.read_text(encoding=encoding))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise InputError(f'{path}: expected an object {{"items": [...], "relationships": [...]}}')
    unknown = sorted(set(data) - {"items", "relationships"})
    if unknown:
        raise InputError(f"{path}: unknown top-level fields: {', '.join(unknown)}")
    items = data.get("items") or []
    relationships = data.get("relationships") or []
    for name, values in (("items", items), ("relationships", relationships)):
        if not isinstance(values, list) or not all(isinstance(v, dict) for v in values):
            raise InputError(f"{path}: {name} must be a list of objects")
    return items, relationships


# -- talking to the API ------------------------------------------------------------------------


def _endpoint(url: str) -> str:
    url = url.rstrip("/")
    return url if url.endswith("/graphql") else url + "/graphql"


class _Api:
    def __init__(self, url: str, token: str) -> None:
        try:
            import httpx
        except ImportError as exc:  # pragma: no cover - httpx ships with the dev tools
            raise ApiError("the import needs the httpx package: pip install httpx") from exc
        self.url = _endpoint(url)
        self.client = httpx.Client(
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(TIMEOUT_SECONDS, connect=10.0),
        )

    def import_cis(self, payload: dict[str, Any]) -> dict[str, Any]:
        import httpx

        try:
            response = self.client.post(
                self.url, json={"query": IMPORT_MUTATION, "variables": {"input": payload}}
            )
        except httpx.HTTPError as exc:
            raise ApiError(f"cannot reach {self.url}: {exc}") from exc
        try:
            body = response.json()
        except ValueError:
            raise ApiError(
                f"{self.url} answered HTTP {response.status_code} without a GraphQL body"
            ) from None
        errors = body.get("errors") if isinstance(body, dict) else None
        if errors:
            first = errors[0]
            code = (first.get("extensions") or {}).get("code")
            where = (first.get("extensions") or {}).get("field")
            detail = ", ".join(str(x) for x in (code, where) if x)
            suffix = f" ({detail})" if detail else ""
            raise ApiError(f"HTTP {response.status_code}: {first.get('message')}{suffix}")
        if response.status_code != 200 or not isinstance(body, dict) or not body.get("data"):
            raise ApiError(f"{self.url} answered HTTP {response.status_code}")
        result: dict[str, Any] = body["data"]["importCis"]
        return result

    def close(self) -> None:
        self.client.close()


# -- planning the batches ----------------------------------------------------------------------


@dataclass
class _Rejection:
    where: str
    reason: str
    message: str


@dataclass
class _Totals:
    items: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("CREATED", "UPDATED", "UNCHANGED", "REJECTED"), 0)
    )
    relationships: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("CREATED", "UPDATED", "UNCHANGED", "REJECTED"), 0)
    )
    unchecked: int = 0
    rejections: list[_Rejection] = field(default_factory=list)
    sent_batches: int = 0
    sent_items: int = 0

    @property
    def rejected(self) -> int:
        return self.items["REJECTED"] + self.relationships["REJECTED"]


def _item_label(item: dict[str, Any], index: int) -> str:
    where = f"line {item['_line']}" if "_line" in item else f"items[{index}]"
    name = item.get("name") or "?"
    ci_class = item.get("ciClass") or "?"
    return f"{where} ({ci_class} {name!r})"


def _rel_label(rel: dict[str, Any], index: int) -> str:
    where = rel.get("_where") or f"relationships[{index}]"
    source = rel.get("sourceKey") or rel.get("sourceId") or "?"
    target = rel.get("targetKey") or rel.get("targetId") or "?"
    return f"{where} ({source} -{rel.get('type') or '?'}-> {target})"


def _field(error: dict[str, Any], prefix: str) -> str:
    """An error field without the API's batch-relative `items[n]` / `relationships[n]` prefix."""
    name = str(error.get("field") or "")
    if name.startswith(prefix):
        name = name[len(prefix) :].split("]", 1)[-1].lstrip(".")
    return name


def _plan(
    items: Sequence[dict[str, Any]], relationships: Sequence[dict[str, Any]], batch_size: int
) -> tuple[list[tuple[int, int]], list[list[int]], list[tuple[int, str]]]:
    """Item ranges per batch, the relationships each batch carries, and those never sendable."""
    ranges = [(i, min(i + batch_size, len(items))) for i in range(0, len(items), batch_size)]
    if not ranges:
        ranges = [(0, 0)]
    batch_of_key: dict[str, int] = {}
    for n, (start, end) in enumerate(ranges):
        for item in items[start:end]:
            key = item.get("key")
            if isinstance(key, str) and key not in batch_of_key:
                batch_of_key[key] = n
    carried: list[list[int]] = [[] for _ in ranges]
    unsendable: list[tuple[int, str]] = []
    for index, rel in enumerate(relationships):
        batch = 0
        problem = None
        for end_name in ("source", "target"):
            key = rel.get(f"{end_name}Key")
            if key is None or rel.get(f"{end_name}Id") is not None:
                continue  # by id, or malformed: the API says what is wrong with it
            if key not in batch_of_key:
                problem = f"no item with key {key!r} in this file"
                break
            batch = max(batch, batch_of_key[key])
        if problem:
            unsendable.append((index, problem))
        else:
            carried[batch].append(index)
    return ranges, carried, unsendable


# -- the command -------------------------------------------------------------------------------


def run_import(
    path: Path,
    *,
    url: str,
    token: str,
    source: str,
    batch_size: int = 1000,
    dry_run: bool = False,
    out: TextIO = sys.stderr,
    relationships: Path | None = None,
    delimiter: str | None = None,
    encoding: str = DEFAULT_ENCODING,
) -> int:
    """Import the files; progress and a summary go to `out`. Returns the exit code."""
    if batch_size < 1:
        print("error: the batch size must be at least 1", file=out)
        return 2
    try:
        items, rels = read_items(
            path, relationships=relationships, delimiter=delimiter, encoding=encoding
        )
    except InputError as exc:
        print(f"error: {exc}", file=out)
        return 2
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        api = _Api(url, token)
    except ApiError as exc:
        print(f"error: {exc}", file=out)
        return 2
    try:
        totals, failure = _send(api, items, rels, source, batch_size, dry_run, out)
    finally:
        api.close()
    if failure is not None:
        print(f"error: {failure}", file=out)
        if totals.sent_batches == 0:
            return 2  # nothing reached the graph: a summary of zeros would only mislead
        print(f"stopped after {totals.sent_items} of {len(items)} items;", file=out)
    _summary(totals, dry_run, out)
    if failure is not None:
        return 2
    return 1 if totals.rejected else 0


def _send(
    api: _Api,
    items: list[dict[str, Any]],
    relationships: list[dict[str, Any]],
    source: str,
    batch_size: int,
    dry_run: bool,
    out: TextIO,
) -> tuple[_Totals, str | None]:
    totals = _Totals()
    ranges, carried, unsendable = _plan(items, relationships, batch_size)
    for index, message in unsendable:
        totals.relationships["REJECTED"] += 1
        totals.rejections.append(
            _Rejection(_rel_label(relationships[index], index), "unknown_key", message)
        )
    ids: dict[str, str] = {}  # key -> CI id, from earlier batches
    failed_keys: set[str] = set()  # keys of items the API rejected
    phantom: set[str] = set()  # keys "created" by earlier dry-run batches: not in the graph
    done = 0
    progress = _Progress(out, len(items), len(relationships))
    progress.draw(0, 0)
    sent_rels = 0
    for n, (start, end) in enumerate(ranges):
        batch_items = items[start:end]
        here = {i.get("key") for i in batch_items if isinstance(i.get("key"), str)}
        payload_rels: list[dict[str, Any]] = []
        rel_indexes: list[int] = []
        for index in carried[n]:
            rel = relationships[index]
            problem: tuple[str, str] | None = None
            wire = {
                k: v
                for k, v in rel.items()
                if k not in ("sourceKey", "targetKey") and not k.startswith("_")
            }
            for end_name in ("source", "target"):
                key = rel.get(f"{end_name}Key")
                if key is None or key in here:
                    if key is not None:
                        wire[f"{end_name}Key"] = key
                    continue
                if key in failed_keys:
                    problem = ("rejected_end", f"the item with key {key!r} was rejected")
                elif key in phantom:
                    problem = ("unchecked", f"the item with key {key!r} would only be created")
                elif key in ids:
                    wire[f"{end_name}Id"] = ids[key]
                else:
                    problem = ("unknown_key", f"no accepted item with key {key!r}")
            if problem is None:
                payload_rels.append(wire)
                rel_indexes.append(index)
            elif problem[0] == "unchecked":
                totals.unchecked += 1
            else:
                totals.relationships["REJECTED"] += 1
                totals.rejections.append(_Rejection(_rel_label(rel, index), *problem))
        payload = {
            "source": source,
            "dryRun": dry_run,
            "items": [{k: v for k, v in i.items() if k != "_line"} for i in batch_items],
            "relationships": payload_rels,
        }
        try:
            result = api.import_cis(payload)
        except ApiError as exc:
            progress.finish()
            return totals, str(exc)
        for row in result["items"]:
            index = start + int(row["index"])
            item = items[index]
            status = str(row["status"])
            totals.items[status] = totals.items.get(status, 0) + 1
            key = item.get("key")
            if status == "REJECTED":
                error = row.get("error") or {}
                reason = str(error.get("reason") or "rejected")
                where = _field(error, f"items[{row['index']}]")
                message = str(error.get("message") or "")
                totals.rejections.append(
                    _Rejection(
                        _item_label(item, index) + (f" {where}" if where else ""), reason, message
                    )
                )
                if isinstance(key, str):
                    failed_keys.add(key)
            elif isinstance(key, str) and row.get("ciId"):
                ids[key] = str(row["ciId"])
                if dry_run and status == "CREATED":
                    phantom.add(key)
        for row in result["relationships"]:
            index = rel_indexes[int(row["index"])]
            status = str(row["status"])
            totals.relationships[status] = totals.relationships.get(status, 0) + 1
            if status == "REJECTED":
                error = row.get("error") or {}
                where = _field(error, f"relationships[{row['index']}]")
                totals.rejections.append(
                    _Rejection(
                        _rel_label(relationships[index], index) + (f" {where}" if where else ""),
                        str(error.get("reason") or "rejected"),
                        str(error.get("message") or ""),
                    )
                )
        done = end
        sent_rels += len(payload_rels)
        totals.sent_batches += 1
        totals.sent_items = done
        progress.draw(done, sent_rels)
    progress.finish()
    return totals, None


class _Progress:
    """A tqdm bar redrawn in place on a terminal; a plain line per batch otherwise (a log file
    gets lines, not carriage returns)."""

    def __init__(self, out: TextIO, total: int, relationships: int) -> None:
        self.out = out
        self.total = total
        self.relationships = relationships
        isatty = getattr(out, "isatty", None)
        self.bar: tqdm[Any] | None = None
        if callable(isatty) and isatty():
            self.bar = tqdm(
                total=total,
                file=out,
                unit=" items",
                bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} items{postfix} [{elapsed}]",
                dynamic_ncols=True,
            )

    def draw(self, done: int, rels: int) -> None:
        sent = f"{rels}/{self.relationships} relationships sent" if self.relationships else ""
        if self.bar is not None:
            self.bar.n = done
            self.bar.set_postfix_str(sent, refresh=False)
            self.bar.refresh()
            return
        if done == 0 and self.total > 0:
            return
        self.out.write(f"{done}/{self.total} items" + (f", {sent}" if sent else "") + "\n")
        self.out.flush()

    def finish(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _summary(totals: _Totals, dry_run: bool, out: TextIO) -> None:
    def counts(c: dict[str, int]) -> str:
        return ", ".join(
            f"{c.get(s, 0)} {s.lower()}" for s in ("CREATED", "UPDATED", "UNCHANGED", "REJECTED")
        )

    heading = "dry run, nothing written" if dry_run else "import finished"
    print(f"{heading}:", file=out)
    print(f"  items:         {counts(totals.items)}", file=out)
    print(f"  relationships: {counts(totals.relationships)}", file=out)
    if totals.unchecked:
        print(
            f"  {totals.unchecked} relationship(s) not checked: an end would be created by an "
            "earlier batch of this dry run (a bigger --batch-size checks them)",
            file=out,
        )
    if totals.rejections:
        shown = totals.rejections[:MAX_SHOWN_REJECTIONS]
        more = len(totals.rejections) - len(shown)
        print(
            f"rejected: {totals.items['REJECTED']} item(s), "
            f"{totals.relationships['REJECTED']} relationship(s):",
            file=out,
        )
        for r in shown:
            print(f"  {r.where}: {r.reason}: {r.message}", file=out)
        if more:
            print(f"  … and {more} more", file=out)
