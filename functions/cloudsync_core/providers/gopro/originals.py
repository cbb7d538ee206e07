"""Which files of a GoPro ``/media/{id}/download`` answer are originals: ONE rule table.

The answer is judged by what it contains, never by the medium's ``type`` (rclone counts the
``source`` variations; dustin/gopro archives what is there). Every row of ``RULES`` is one rule
of /work/shared/gopro-api.md, named, and tested by name (tests/unit/test_gopro_rules.py);
the provider catalog lists it as GoPro's ``rules``:

- the first *choosing* row that applies decides the medium's originals (or that it is not a
  medium at all: ``NotMediaError``, which ends SKIPPED);
- every *adding* row that applies adds to them (RAW sidecars);
- *policy* rows hold for every choice (available entries first; derived files never).

Then the originals must account for the listing's ``item_count`` (and, where the evidence says
sizes add up, for its ``file_size``, checked after probing): else ``IncompleteMediumError``.

File ids are stable across fresh answers (a later invocation finds the same original again):
``source-N`` (chapter / numbered variation N; also ``files[0]`` when that is the original),
``baked_source-N`` (an edit's render), ``frame-NNNN`` (frame N in ``files[]``),
``raw_photo-N`` (the RAW sidecar of item N).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from ...errors import IncompleteMediumError, InvalidMediaError, NotMediaError
from ...models import MediaItem, Selection, SourceFile
from ..base import size_shortfall

MAX_NAME_CHARS: Final = 1024
PHOTO_EXTENSIONS: Final = frozenset({"jpg", "jpeg", "gpr", "png", "heic", "dng"})
PROJECT_PLAY_AS: Final = "edl"
RENDER_COMPOSITION: Final = "export"

# Chapter names (dustin/gopro File.hs, GoPro's naming convention):
_BASIC = re.compile(r"^(G[HXLSP])(\d{2})(\d{4})(\.[A-Za-z0-9]+)$", re.IGNORECASE)  # GX010123
_LOOPED = re.compile(r"^(G[HXS])([A-Z]{2})(\d{4})(\.[A-Za-z0-9]+)$", re.IGNORECASE)  # GXAA0001
_HERO5 = re.compile(r"^(GOPR)(\d{4})(\.[A-Za-z0-9]+)$", re.IGNORECASE)  # GOPR0123, GP010123
_LABEL = re.compile(r"[^a-z0-9_]")

RuleKind = Literal["choose", "add", "policy"]


# --- names ------------------------------------------------------------------------------------


def _split(filename: str) -> tuple[str, str]:
    """(stem, extension with its dot); names are single segments by now or only metadata."""
    stem, dot, ext = filename.rpartition(".")
    if not dot or not stem or not ext or "/" in ext or "\\" in ext:
        return filename, ""
    return stem, f".{ext}"


def chapter_filename(filename: str, chapter: int, chapters: int) -> str:
    """The camera's name for chapter ``chapter`` of a video listed as ``filename``.

    ``GH/GX/GL/GS`` + 2-digit chapter + 4-digit counter (``GX010123.MP4`` -> ``GX030123.MP4``,
    MAX ``GS010001.360``); HERO4/5 ``GOPR0123.MP4`` then ``GP010123.MP4``, ``GP020123.MP4``;
    looped ``GXAA0001.MP4`` counts in its last four digits. Other names are kept for a single
    chapter, else ``stem_NN.ext``.
    """
    if 1 <= chapter <= 99:
        named = _camera_chapter(filename, chapter)
        if named is not None:
            return named
    if chapters <= 1 and chapter == 1:
        return filename
    stem, ext = _split(filename)
    return f"{stem}_{chapter:02d}{ext}"


def _counted(first: str, chapter: int, digits: int) -> str | None:
    """``first`` (a camera's counter) moved on by ``chapter - 1``, if it still fits ``digits``."""
    number = int(first) + chapter - 1
    return f"{number:0{digits}d}" if number < 10**digits else None


# Names whose chapters advance one group: (pattern, the group that counts, its digits).
_COUNTING: Final = ((_BASIC, 1, 2), (_LOOPED, 2, 4))


def _camera_chapter(filename: str, chapter: int) -> str | None:
    """The camera's own name for ``chapter`` when ``filename`` follows a known scheme."""
    for pattern, group, digits in _COUNTING:
        match = pattern.match(filename)
        if match:
            parts = list(match.groups())
            number = _counted(parts[group], chapter, digits)
            if number is None:
                return None
            parts[group] = number
            return "".join(parts)
    hero5 = _HERO5.match(filename)
    if hero5:
        prefix, counter, ext = hero5.groups()
        if chapter == 1:
            return filename
        gp = "GP" if prefix.isupper() else "gp"
        return f"{gp}{chapter - 1:02d}{counter}{ext}"
    return None


def frame_filename(filename: str, frame: int, ext: str | None = None) -> str:
    stem, own = _split(filename)
    return f"{stem}-{frame:04d}{ext or own or '.JPG'}"


# --- reading the answer -----------------------------------------------------------------------


def _int(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def _text(value: object, limit: int = MAX_NAME_CHARS) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    return value[:limit]


def _link(value: object) -> str | None:
    if isinstance(value, str) and value.startswith(("https://", "http://")):
        return value
    return None


def _entries(embedded: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    value = embedded.get(key)
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, dict)]


def _available(entry: Mapping[str, Any]) -> bool:
    return entry.get("available") is not False


def prefer_available(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop ``available: false`` entries where an available one exists for the same item
    number (unnumbered entries: anywhere in the list); keep them where nothing else exists."""
    numbers_ok = {
        _int(e.get("item_number")) for e in entries if _available(e) and e.get("item_number")
    }
    any_ok = any(_available(e) for e in entries)
    kept: list[dict[str, Any]] = []
    for entry in entries:
        if _available(entry):
            kept.append(entry)
            continue
        number = _int(entry.get("item_number"))
        taken = number in numbers_ok if number is not None else any_ok
        if not taken:
            kept.append(entry)
    return kept


def _numbered(entries: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """(item number, entry), one per number (available first, then first seen), sorted.
    Entries without a usable number take their 1-based position when that is free."""
    out: dict[int, dict[str, Any]] = {}
    for position, entry in enumerate(prefer_available(entries), start=1):
        number = _int(entry.get("item_number"))
        if number is None or number < 1:
            number = position
        out.setdefault(number, entry)
    return sorted(out.items())


def _frames(files: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """Every frame, numbered by ``item_number`` when those are all present and distinct, else
    by position: a frame is never dropped for a duplicate number."""
    files = prefer_available(files)
    numbers = [_int(f.get("item_number")) for f in files]
    if all(n is not None and n >= 1 for n in numbers) and len(set(numbers)) == len(numbers):
        return sorted(
            ((n, f) for n, f in zip(numbers, files, strict=True) if n is not None),
            key=lambda pair: pair[0],
        )
    return list(enumerate(files, start=1))


def _label(value: object) -> str:
    """A label as a short log-safe word (it goes into error messages)."""
    return _LABEL.sub("", str(value).lower())[:32] or "unlabelled"


@dataclass(frozen=True)
class Answer:
    """One download answer, read once, with what the listing said about the medium."""

    media_id: str
    filename: str | None  # the answer's, else the listing's; None when neither gives one
    files: list[dict[str, Any]]
    sources: list[dict[str, Any]]
    baked: list[dict[str, Any]]
    raws: list[dict[str, Any]]
    labels: tuple[str, ...]  # every variation / sidecar label seen (for "no original" errors)
    item_count: int | None
    facts: Mapping[str, str]
    include_renders: bool

    @classmethod
    def read(
        cls, media_id: str, answer: object, listed: MediaItem | None, include_renders: bool
    ) -> Answer:
        if not isinstance(answer, dict):
            raise InvalidMediaError(f"medium {media_id}: the download answer is not an object")
        embedded = answer.get("_embedded")
        embedded = embedded if isinstance(embedded, dict) else {}
        variations = _entries(embedded, "variations")
        sidecars = _entries(embedded, "sidecar_files")
        return cls(
            media_id=media_id,
            filename=_text(answer.get("filename")) or (listed.filename if listed else None),
            files=_entries(embedded, "files"),
            sources=[v for v in variations if v.get("label") == "source"],
            baked=[v for v in variations if v.get("label") == "baked_source"],
            raws=[s for s in sidecars if s.get("label") == "raw_photo"],
            labels=tuple(sorted({_label(v.get("label")) for v in (*variations, *sidecars)})),
            item_count=listed.item_count if listed else None,
            facts=dict(listed.facts) if listed else {},
            include_renders=include_renders,
        )

    @property
    def is_project(self) -> bool:
        return (
            self.facts.get("play_as", "").lower() == PROJECT_PLAY_AS
            or self.facts.get("user_created", "") == "true"
        )

    @property
    def is_render(self) -> bool:
        return self.facts.get("composition", "").lower() == RENDER_COMPOSITION

    @property
    def has_concat(self) -> bool:
        return "concat" in self.labels

    def name(self, entry: Mapping[str, Any] | None, default_ext: str) -> str:
        """The listed name, or a safe one made from the id and the entry's type."""
        if self.filename:
            return self.filename
        ext = _text(entry.get("type"), 8) if entry else None
        ext = ext if ext and ext.isalnum() else default_ext
        return f"{self.media_id}.{ext}"


def _original(
    file_id: str, number: int, label: str, filename: str, entry: Mapping[str, Any]
) -> SourceFile:
    url = _link(entry.get("url"))
    if url is None:
        raise InvalidMediaError(f"the download answer gives {file_id} no usable link")
    return SourceFile(
        file_id=file_id,
        item_number=number,
        label=label,
        filename=filename,
        url=url,
        head_url=_link(entry.get("head")),
    )


# --- the rules: when each applies, and what it picks --------------------------------------------


def _skip_project(a: Answer) -> list[SourceFile]:
    raise NotMediaError(
        f"medium {a.media_id} is an edit project (play_as edl / user_created) with no rendered "
        "original: nothing to archive"
    )


def _skip_render(a: Answer) -> list[SourceFile]:
    raise NotMediaError(
        f"medium {a.media_id} is a share render GoPro made (composition export); "
        "the stack setting includeRenders archives renders"
    )


def _single_source_beside_frames(a: Answer) -> bool:
    return len(a.sources) == 1 and len(a.files) >= 2 and a.item_count != 1


def _pick_sources(a: Answer) -> list[SourceFile]:
    chapters = _numbered(a.sources)
    first = chapters[0][1]
    photo = (_text(first.get("type"), 8) or "").lower() in PHOTO_EXTENSIONS
    name = a.name(first, "MP4")
    out: list[SourceFile] = []
    for number, entry in chapters:
        if photo and len(chapters) > 1:  # time-lapse frames as numbered variations
            filename = frame_filename(name, number)
        else:
            filename = chapter_filename(name, number, len(chapters))
        out.append(_original(f"source-{number}", number, "source", filename, entry))
    return out


def _pick_frames(a: Answer) -> list[SourceFile]:
    name = a.name(None, "JPG")
    return [
        _original(f"frame-{n:04d}", n, "frame", frame_filename(name, n), entry)
        for n, entry in _frames(a.files)
    ]


def _pick_baked(a: Answer) -> list[SourceFile]:
    renders = _numbered(a.baked)
    name = a.name(renders[0][1], "mp4")
    return [
        _original(f"baked_source-{n}", n, "baked_source", chapter_filename(name, n, len(renders)),
                  entry)
        for n, entry in renders
    ]


def _pick_first_file(a: Answer) -> list[SourceFile]:
    entry = prefer_available(a.files)[0]
    return [_original("source-1", 1, "file", a.name(None, "MP4"), entry)]


def _pick_raws(a: Answer, chosen: list[SourceFile]) -> list[SourceFile]:
    raws = _numbered(a.raws)
    frames = len(chosen) > 1 and all(o.label in ("frame", "source") for o in chosen)
    by_number = {o.item_number: o.filename for o in chosen}
    out: list[SourceFile] = []
    for number, entry in raws:
        if frames and number in by_number:  # a RAW series: the frame's own name, .GPR
            filename = _split(by_number[number])[0] + ".GPR"
        elif len(raws) == 1:
            filename = _split(a.name(None, "JPG"))[0] + ".GPR"
        else:
            filename = f"{_split(a.name(None, 'JPG'))[0]}_{number:02d}.GPR"
        out.append(_original(f"raw_photo-{number}", number, "raw_photo", filename, entry))
    return out


@dataclass(frozen=True)
class Rule:
    """One row: its name, the gopro-api.md rule it implements, when it applies, what it does.

    ``counts_items``: the originals it picks must account for the listing's ``item_count``;
    ``counts_bytes``: their sizes must add up to the listing's ``file_size``.
    """

    name: str
    says: str
    kind: RuleKind
    applies: Callable[[Answer], bool] = lambda a: True
    pick: Callable[[Answer], list[SourceFile]] | None = None
    counts_items: bool = False
    counts_bytes: Callable[[Answer], bool] = lambda a: False


RULES: Final[tuple[Rule, ...]] = (
    Rule(
        "edit-project",
        "play_as edl / user_created items are edit projects (an edl_mce sidecar), not media",
        "choose",
        lambda a: a.is_project and not a.sources and not a.baked,
        _skip_project,
    ),
    Rule(
        "share-render",
        "composition export marks renders GoPro made for sharing (its app hides them)",
        "choose",
        lambda a: a.is_render and not a.include_renders,
        _skip_render,
    ),
    Rule(
        "cover-beside-frames",
        "one source beside many files[] frames is a cover: the frames are the originals",
        "choose",
        _single_source_beside_frames,
        _pick_frames,
        counts_items=True,
    ),
    Rule(
        "numbered-sources",
        "the source variations are the originals, one per item_number (chapters, time-lapse "
        "frames up to thousands, whose sizes add up to file_size)",
        "choose",
        lambda a: bool(a.sources),
        _pick_sources,
        counts_items=True,
        counts_bytes=lambda a: len(_numbered(a.sources)) > 1,
    ),
    Rule(
        "baked-source",
        "edits (MultiClipEdit, Edit) have no source: the baked_source render is the original",
        "choose",
        lambda a: bool(a.baked),
        _pick_baked,
    ),
    Rule(
        "files-as-frames",
        "no source, several files[] and not a single item: every file is an original",
        "choose",
        lambda a: len(a.files) >= 2 and a.item_count != 1,
        _pick_frames,
        counts_items=True,
    ),
    Rule(
        "first-file",
        "a ready single-item medium without source: files[0] (rclone's fallback); never "
        "beside a concat join (a chaptered video whose chapters are missing)",
        "choose",
        lambda a: bool(a.files) and not a.has_concat and (a.item_count or 1) <= 1,
        _pick_first_file,
        counts_items=True,
    ),
    Rule(
        "raw-sidecars",
        "every raw_photo sidecar (.GPR) is an original, one per item_number in a RAW series",
        "add",
        lambda a: bool(a.raws),
    ),
    Rule(
        "prefer-available",
        "an available: false entry is used only when nothing else exists for its item number",
        "policy",
    ),
    Rule(
        "never-derived",
        "concat joins, proxies (high_res_proxy_mp4, mp4_low...), covers, sprites, gpmf and "
        "antishake sidecars and edl_mce JSON are never originals",
        "policy",
    ),
)
RULE_NAMES: Final = tuple(rule.name for rule in RULES)
__all__ = [
    "RULES",
    "RULE_NAMES",
    "Rule",
    "chapter_filename",
    "frame_filename",
    "prefer_available",
    "select",
    "size_shortfall",
]


def select(
    media_id: str,
    answer: object,
    listed: MediaItem | None = None,
    *,
    include_renders: bool = False,
) -> Selection:
    """The originals of one download answer by the rule table (pure; see the module doc)."""
    a = Answer.read(media_id, answer, listed, include_renders)
    chooser = next((r for r in RULES if r.kind == "choose" and r.applies(a)), None)
    if chooser is None or chooser.pick is None:
        raise InvalidMediaError(
            f"medium {media_id}: the download answer lists no original (files: {len(a.files)}; "
            f"labels: {', '.join(a.labels) or 'none'}); not ready, or a shape not known yet"
        )
    chosen = chooser.pick(a)
    if chooser.counts_items and a.item_count:
        items = len({o.item_number for o in chosen})
        if items < a.item_count:
            raise IncompleteMediumError(
                f"medium {media_id}: the download answer holds {items} of the {a.item_count} "
                f"items the listing announces (rule {chooser.name})"
            )
    extra = _pick_raws(a, chosen) if RULES[RULE_NAMES.index("raw-sidecars")].applies(a) else []
    expected = None
    if chooser.counts_bytes(a) and listed is not None and listed.file_size:
        expected = listed.file_size
    return Selection(originals=[*chosen, *extra], rule=chooser.name, expected_bytes=expected)
