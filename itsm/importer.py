"""`itsm import FILE`: send CIs and relationships from a CSV or JSON file through `importCis`.

CSV: one CI per row. The columns ciClass, name, lifecycle, criticality, owner, description and key
are the item's fields; every other column is an attribute. Empty cells are left out. Values stay
strings (no guessing of numbers, so "007" and "1.10" survive). Relationships cannot be expressed in
CSV.

JSON: {"items": [...], "relationships": [...]} in the shape of the `importCis` input.

Items go in batches; each batch also carries the relationships whose ends are all known by then:
an end among this batch's items is sent by key, one among earlier batches by the CI id the API
returned for it, and an end given as `sourceId`/`targetId` as is. Exit codes: 0 when nothing was
rejected, 1 when something was, 2 when the file could not be read or the API could not be used.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

CORE_COLUMNS = ("key", "ciClass", "name", "lifecycle", "criticality", "owner", "description")
MAX_SHOWN_REJECTIONS = 20
BAR_WIDTH = 30
TIMEOUT_SECONDS = 600.0

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


def read_items(path: Path | str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The items and relationships in a .csv or .json file, in the `importCis` input shape."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".csv":
            return _read_csv(path), []
        if path.suffix.lower() == ".json":
            return _read_json(path)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not UTF-8 text: {exc}") from exc
    raise InputError(f"{path}: the file name must end in .csv or .json")


def _read_csv(path: Path) -> list[dict[str, Any]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            return []
        columns = [c.strip() for c in header]
        if "ciClass" not in columns or "name" not in columns:
            raise InputError(f"{path}: the header needs at least the columns ciClass and name")
        duplicates = sorted({c for c in columns if c and columns.count(c) > 1})
        if duplicates:
            raise InputError(f"{path}: repeated columns: {', '.join(duplicates)}")
        items = []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue  # blank line
            if len(row) > len(columns):
                raise InputError(
                    f"{path}, line {reader.line_num}: {len(row)} cells for {len(columns)} columns"
                )
            item: dict[str, Any] = {}
            attributes: dict[str, Any] = {}
            for column, cell in zip(columns, row, strict=False):
                value = cell.strip()
                if not column or not value:
                    continue
                if column in CORE_COLUMNS:
                    item[column] = value
                else:
                    attributes[column] = value
            item.setdefault("ciClass", "")
            item.setdefault("name", "")
            if attributes:
                item["attributes"] = attributes
            item["_line"] = reader.line_num
            items.append(item)
        return items


def _read_json(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
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

    @property
    def rejected(self) -> int:
        return self.items["REJECTED"] + self.relationships["REJECTED"]


def _item_label(item: dict[str, Any], index: int) -> str:
    where = f"line {item['_line']}" if "_line" in item else f"items[{index}]"
    name = item.get("name") or "?"
    ci_class = item.get("ciClass") or "?"
    return f"{where} ({ci_class} {name!r})"


def _rel_label(rel: dict[str, Any], index: int) -> str:
    source = rel.get("sourceKey") or rel.get("sourceId") or "?"
    target = rel.get("targetKey") or rel.get("targetId") or "?"
    return f"relationships[{index}] ({source} -{rel.get('type') or '?'}-> {target})"


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
) -> int:
    """Import the file; progress and a summary go to `out`. Returns the exit code."""
    if batch_size < 1:
        print("error: the batch size must be at least 1", file=out)
        return 2
    try:
        items, relationships = read_items(path)
    except InputError as exc:
        print(f"error: {exc}", file=out)
        return 2
    try:
        api = _Api(url, token)
    except ApiError as exc:
        print(f"error: {exc}", file=out)
        return 2
    try:
        totals, failure = _send(api, items, relationships, source, batch_size, dry_run, out)
    finally:
        api.close()
    _summary(totals, dry_run, out)
    if failure is not None:
        print(f"error: {failure}", file=out)
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
            wire = {k: v for k, v in rel.items() if k not in ("sourceKey", "targetKey")}
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
        progress.draw(done, sent_rels)
    progress.finish()
    return totals, None


class _Progress:
    """`[#####     ] 5000/10000 items`: redrawn in place on a terminal, a line per batch if not."""

    def __init__(self, out: TextIO, total: int, relationships: int) -> None:
        self.out = out
        self.total = total
        self.relationships = relationships
        isatty = getattr(out, "isatty", None)
        self.tty = bool(isatty()) if callable(isatty) else False
        self.drawn = False

    def draw(self, done: int, rels: int) -> None:
        if not self.tty and done == 0 and self.total > 0:
            return
        share = done / self.total if self.total else 1.0
        filled = round(BAR_WIDTH * share)
        line = f"[{'#' * filled}{' ' * (BAR_WIDTH - filled)}] {done}/{self.total} items"
        if self.relationships:
            line += f", {rels}/{self.relationships} relationships sent"
        if self.tty:
            self.out.write("\r" + line)
        else:
            self.out.write(line + "\n")
        self.out.flush()
        self.drawn = True

    def finish(self) -> None:
        if self.tty and self.drawn:
            self.out.write("\n")
            self.out.flush()
            self.drawn = False


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
        print(f"rejected ({len(totals.rejections)}):", file=out)
        for r in shown:
            print(f"  {r.where}: {r.reason}: {r.message}", file=out)
        if more:
            print(f"  … and {more} more", file=out)
