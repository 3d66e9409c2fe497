"""The fast ResourceList path: native parsing, and unchanged items passed through as text.

Reading and writing YAML with PyYAML's Python constructor and representer
costs seconds on a large package, while the function itself needs a fraction
of that.  So, in function mode:

* **Split.** A block-style ResourceList (what kpt and kustomize send) is cut
  into its top-level part and one span of text per item, by lines: an item
  starts with ``- `` at the items' indentation and runs until the next such
  line or the first top-level key.  A line indented less than its item's
  content can only continue a quoted scalar (go-yaml writes those at column
  0): that item alone is read by yamlio.  A text that cannot be cut so
  (tabs, carriage returns, document markers, characters YAML forbids, a cut
  that lands inside a quoted scalar) is read whole by :func:`yamlio.load_all`.
* **Parse.** The items are parsed by ``yaml_rs`` (Rust, YAML 1.2 core
  schema, duplicate keys are errors) a batch at a time (``items:`` and the
  batch's lines, the same YAML as in the whole text), each batch copied with
  every distinct short string held once (yaml_rs makes a string per
  occurrence) and then dropped, so the package's full yaml_rs data never
  exists at once.  Of an item that will be written back as its text, only
  what the pipeline reads is kept (``Reader(project=...)``).  yaml_rs's
  scalar meanings equal yamlio's (go-yaml v3) for every plain scalar
  *except* numbers and timestamps, whose text yamlio keeps as
  :class:`yamlio.RawScalar`.  An item whose text contains anything where the
  two could differ (a plain token that starts like a number but is not a
  canonical decimal integer, a tag, an anchor or alias, a merge key, a
  complex key, a non-empty flow collection) is read alone by yamlio: exact,
  at yamlio's speed.  In the other items, canonical integers become
  ``RawScalar``s with the same text.  The top-level part (``functionConfig``)
  is always read by yamlio.  Any yaml_rs error, and any alias, means the
  whole text goes through yamlio, which reports it with a line number.
* **Write.** An output item that *is* an input item (the pipeline passed it
  through untouched) is written as the very text it came in as (kept
  zlib-compressed in the meantime),
  unless its text is one yamlio.dump would not write: an item read by
  yamlio above (anchors, aliases, tags, merge keys and flow collections are
  not written out) or holding a plain string a YAML 1.1 reader takes for
  something else (``on``, ``no``, ``12:30``: yamlio.dump quotes them).
  Generated, modified and such items are written by :func:`dump`, which
  gives ``yamlio.dump``'s text byte for byte, faster; :class:`krm.Deferred`
  items (generated ExternalSecrets) are built as they are written.  With no
  pass-through text the output is byte-identical to
  ``yamlio.dump(rl.to_dict())``.
"""
from __future__ import annotations

import bisect
import functools
import re
import zlib
from typing import Any, Callable, Iterator

from . import krm, limits, yamlio


class _Pattern:
    """A regular expression compiled on first use (the function's start-up time matters)."""

    def __init__(self, pattern: str, flags: int = 0):
        self._args = (pattern, flags)

    def __getattr__(self, name: str) -> Any:
        method = getattr(re.compile(*self._args), name)
        setattr(self, name, method)  # later lookups find it directly
        return method


# Characters YAML does not allow in a stream (PyYAML's reader rejects them too).
_NON_PRINTABLE = _Pattern("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Text in an item where yaml_rs and yamlio could give different values.
# Both agree on strings, booleans and nulls (YAML 1.2 core words); they
# differ on numbers and timestamps other than canonical decimal integers,
# whose text only yamlio keeps, and on tags, anchors, merge keys, complex
# keys.  Over-approximates (a match inside a quoted string or a block scalar
# counts too), which only costs speed.  Once flow collections are excluded,
# a plain scalar starts at a line start or after whitespace.
def _body(pattern: re.Pattern) -> str:
    return pattern.pattern[1:-1]  # without ^ and $


_NUMBER_OR_TIMESTAMP = (
    rf"(?:{_body(yamlio._GO_TIMESTAMP)}|{_body(yamlio._GO_NUMBER)}|{_body(yamlio._GO_SPECIAL_FLOAT)}"
    # and what yaml_rs alone reads as a number: "_" anywhere ("_1", "-_1", "1e0_"), ".iNf"/".nAn" in any case;
    # what go-yaml reads as one once it drops every "_" ("1e_+5", "0_x1F", "0_b-1")
    r"|[-+]?(?=[0-9_.]*[0-9])[0-9_]*(?:\.[0-9_]*)?(?:[eE][-+_]*[0-9_]*)?|[-+]?\.(?i:inf)|\.(?i:nan)"
    r"|[-+]?_*0_*[xXbBoO][-+_0-9a-fA-F]*)")
# A plain scalar starts after a space or at a line start (a key, or a value
# after "key: " or "- "); what follows a tag, anchor, flow indicator or "? "
# is sent to yamlio anyway.
_DIFFERS = _Pattern(
    r"<<"                                     # merge keys
    r"|\\u[dD][89abAB]"                       # an escaped UTF-16 surrogate ("\\ud83d\\ude00", as JSON writes
    # an emoji): yaml_rs joins a pair, libyaml refuses it
    r"|[:,][\[{](?![\]}])"                    # flow collection after a JSON-like key
    r"|[ \n](?:"
    r"[!&]\S|\*[^\s'\"]"                     # tags, anchors, aliases (not "* *'" ending a quoted cron schedule:
    # an alias named like that is an error to yaml_rs too, which sends the whole text to yamlio)
    r"|[\[{](?![\]}])"                        # non-empty flow collections
    r"|\?\s"                                  # complex keys
    r"|:\s|[\[{][\]}][ ]*:"                   # an empty key (": x"), an empty flow collection as a key
    r"|-?[0-9]+:\s"                            # integer keys
    # a plain scalar go-yaml reads as a number or timestamp, other than a canonical decimal integer of at
    # most 18 digits (always 64 bits: a longer one may be a float or a string to go-yaml, and too long for
    # Python's int-to-text conversion)
    rf"|(?!(?:0|-?[1-9][0-9]{{0,17}}):?\s){_NUMBER_OR_TIMESTAMP}:?(?=\s))")
# Where _DIFFERS could match (a superset: the characters each of its branches starts with).  Python's
# regular expressions try a pattern at every position; character classes first are tried fastest.
# A dash counts only before a digit or a dot (a number): "- " starts every block sequence entry; a
# backslash only before "u" (an escape).
_CANDIDATE = _Pattern(r"[<:, \n\\](?:[<\[{+.0-9!&*?_:]|-[0-9._]|(?<=\\)u)")
# A plain string that go-yaml v3 reads as a string but a YAML 1.1 reader
# (kubectl, Argo CD: go-yaml v2) would not: yamlio.dump quotes it, so an item
# holding one is dumped rather than passed through as its text.  Searched for
# only in the items holding such a string as a whole key or value (_YAML11_WORDS,
# or a digit or sign first and a colon: sexagesimal), which :func:`_compact`
# notices as it copies; the search then tells a plain one from a quoted one.
_YAML11_WORDS = frozenset("y Y yes Yes YES n N no No NO on On ON off Off OFF =".split())
_SIGN_OR_DIGIT = frozenset("+-0123456789")
_MISREAD = _Pattern(r"(?:\n[ ]*|:[ ]+|-[ ]+)"  # where a plain key or value starts: not in a comment or a phrase
                      r"(?=[yYnNoO=+0-9-])(?:y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF|="
                      r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?)(?=:?\s)")


def _plain_trap(text: str, start: int, end: int) -> bool:
    """Whether :data:`_MISREAD` finds a trap in ``text[start:end]`` outside comments.  Safe to skip a match
    after a comment start: in block context nothing after " #" on a line is a plain scalar (inside a block
    scalar it is content, not a scalar either)."""
    for found in _MISREAD.finditer(text, start, end):
        at = found.start()
        if text[at] == "\n" or not _after_comment(text[text.rfind("\n", 0, at) + 1:at]):
            return True
    return False


def _after_comment(line: str) -> bool:
    """Whether a comment starts in ``line`` (the start of a line): a "#" at its start or after a blank, outside
    quotes.  A quote that does not close on the line (an apostrophe in a plain word) keeps the rest "inside":
    no comment, the conservative answer."""
    quote = None
    previous = " "
    escaped = False
    for ch in line:
        if quote == '"':
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                quote = None
        elif quote == "'":
            if ch == "'":
                quote = None  # (a doubled '' closes and reopens)
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and previous in " ":
            return True
        previous = ch
    return False


_ITEMS = _Pattern(r"^items:[ ]*\n", re.MULTILINE)
# Tabs, carriage returns, NUL, the line breaks YAML 1.1 readers know but yaml_rs does not (NEL, LS, PS), and
# U+FEFF (libyaml skips it at a line start).
_UNSPLITTABLE = _Pattern("[\t\r\x00\x85\u2028\u2029\ufeff]")
# What an ASCII text may hold to be split: printable characters and line feeds (no tab, CR or control character).
_SPLITTABLE_ASCII = bytes(range(0x20, 0x7f)) + b"\n"
_FIRST_CONTENT = _Pattern(r"^( *)([^ \n])", re.MULTILINE)
# After the items (kpt and kustomize write them at column 0): the first top-level key, from the line break before
# it (a pattern starting with a literal character is searched for that character first: several times faster).
_TOP_LEVEL_KEY = _Pattern(r"\n[A-Za-z_][\w.-]*:(?:[ ]|$)", re.MULTILINE)
_MARKERS = _Pattern(r"^(?:---|\.\.\.|%)", re.MULTILINE)


class _Split:
    __slots__ = ("header", "indent", "starts", "suspect")

    def __init__(self, header: str, indent: int, starts: list[int], suspect: set[int]):
        self.header = header  # the top-level text, items emptied
        self.indent = indent  # the column of the items' "- "
        self.starts = starts  # where each item's line starts in the text, then where the items end:
        # an item's text, text[starts[i]:starts[i + 1]], runs through its last line break
        self.suspect = suspect  # items holding lines indented less than their content (quoted continuations)


def split(text: str) -> _Split | None:
    """Where each item of a block-style ResourceList starts; None when the text is not laid out so.

    Items are ``- `` at one indentation ``k`` followed by a plain key; their
    content is indented ``k + 2`` or more, and they end at the first
    top-level key (or, for ``k > 0``, the first line indented less than
    ``k``).  A line indented less than its item's content, other than a
    comment, can only be the continuation of a quoted scalar (go-yaml writes
    those at column 0) or an error: its item is *suspect* and is read alone
    by yamlio.  A wrong cut (an item start inside a quoted scalar) leaves an
    unterminated quote in the item before it, which no parser accepts, so
    the caller falls back to reading the whole text with yamlio.
    """
    if not text.endswith("\n") or not _splittable_characters(text):
        return None  # (a last line without its line break: a kept block scalar there would change)
    found = _ITEMS.search(text)
    if found is None or _another_items_key(text, found.end()):
        return None
    head = text[:found.end()]
    first_line = re.search(r"^[^\s#]", head, re.MULTILINE)  # after comments and blank lines
    if _MARKERS.search(head) or first_line is None or first_line.group() == "-":
        return None  # several documents, directives, or not a mapping
    first = _FIRST_CONTENT.search(text, found.end())
    if first is None:
        return None
    k = len(first.group(1))
    if k == 0:
        end = _TOP_LEVEL_KEY.search(text, found.end() - 1)
        stop = end.start() + 1 if end is not None else len(text)
    else:
        end = re.compile(rf"^ {{0,{k - 1}}}[^ \n#]", re.MULTILINE).search(text, found.end())
        stop = end.start() if end is not None else len(text)
    tail = text[stop:]
    if _MARKERS.search(tail) or _MARKERS.search(text, found.end(), stop):
        return None  # (among the items: a document marker at column 0 ends the document, even in a quoted scalar)
    base = found.end() - 1  # the newline ending "items:"
    starts = [m.start() + 1 for m in re.compile(rf"\n {{{k}}}- ").finditer(text, base, stop)]
    if not starts or re.search(r"^ *[^ \n#]", text[base + 1:starts[0]], re.MULTILINE):
        return None  # something other than comments before the first item
    starts.append(stop)
    suspect: set[int] = set()
    # Lines indented less than an item's content (k + 2), other than comments and item starts followed by a plain
    # key or a comment (kpt sends a file's leading comment there: "- # ...", the mapping on the next lines).
    under = re.compile(rf"\n(?! {{{k}}}- [^\s{{}}\[\]\"'!&*|>?%@`,-]) {{0,{k + 1}}}[^ \n#]")
    for m in under.finditer(text, starts[0] - 1, stop):
        suspect.add(_item_at(starts, m.start() + 1))
    return _Split(head + tail, k, starts, suspect)


def _splittable_characters(text: str) -> bool:
    """No tab, carriage return, character YAML forbids or line break yaml_rs does not know."""
    if text.isascii():  # the usual case: one pass in C instead of two regular expression scans
        return not text.encode("ascii").translate(None, _SPLITTABLE_ASCII)
    return not (_UNSPLITTABLE.search(text) or _NON_PRINTABLE.search(text))


def _another_items_key(text: str, start: int) -> bool:
    """Whether a line from ``start`` on is ``items:`` again (searched for as a literal first: faster)."""
    pos = text.find("\nitems:", start - 1)
    while pos != -1:
        if _ITEMS.match(text, pos + 1):
            return True
        pos = text.find("\nitems:", pos + 1)
    return False


def _item_at(starts: list[int], pos: int) -> int:
    """The item whose text holds position ``pos``."""
    return bisect.bisect_right(starts, pos) - 1


def _items_where(pattern: Any, text: str, starts: list[int], check: Any = None) -> set[int]:
    """The items whose text ``pattern`` finds (and, with ``check``, ``check`` matches where it found).

    The patterns start with the character before a token (a space or the line break before the line):
    a match belongs to the item of the character after that."""
    found: set[int] = set()
    pos, stop = starts[0] - 1, starts[-1]
    while True:
        m = pattern.search(text, pos, stop)
        if m is None:
            return found
        at = m.start()
        if check is not None and not check.match(text, at):
            pos = at + 1
            continue
        index = _item_at(starts, at + 1)
        found.add(index)
        pos = starts[index + 1] - 1  # one match is enough: on to the next item (from its line break)


def _compact(item: dict, memo: dict[str, str]) -> tuple[dict, int, bool]:
    """A copy of yaml_rs data (an item) with each distinct string held once, its nesting depth
    (collections, as limits.measure_node counts them), and whether a key or value is a string a
    YAML 1.1 reader may read as something else (see :data:`_MISREAD`); canonical integers become
    RawScalars (yamlio's meaning).

    yaml_rs makes a new string object for every key and value: in a large
    package most are repeats ("name", "metadata", a namespace), and sharing
    them makes the data several times smaller.  Integer keys never get here
    (:data:`_DIFFERS` sends such items to yamlio), so only strings are shared.
    """
    root: dict = {}
    stack: list = [(item, root, 1)]
    deepest = 0
    odd = False
    raw, tag, share, words, first = yamlio.RawScalar, yamlio.INT, memo.setdefault, _YAML11_WORDS, _SIGN_OR_DIGIT
    while stack:
        node, copy, level = stack.pop()
        if level > deepest:
            deepest = level
        is_dict = type(node) is dict
        for k, v in node.items() if is_dict else enumerate(node):
            t = type(v)
            if t is str:
                if v in words or (":" in v and v[0] in first):
                    odd = True
                v = share(v, v) if len(v) <= _SHARED else v
            elif t is dict or t is list:
                child = {} if t is dict else [None] * len(v)
                stack.append((v, child, level + 1))
                v = child
            elif t is int:  # (at most 18 digits here: _DIFFERS sends longer ones to yamlio)
                v = raw(tag, str(v))
            if is_dict and type(k) is str:  # (a key may be a boolean or null too)
                if k in words or (":" in k and k[0] in first):
                    odd = True
                k = share(k, k)
            copy[k] = v  # a list's copy is filled by index
    return root, deepest, odd


# Strings up to this length are shared (long ones rarely repeat).
_SHARED = 100
# Items parsed per yaml_rs call: the whole package's yaml_rs data never exists at once.
_BATCH = 500


@functools.cache
def _native_loader() -> Callable[[str], Any] | None:
    """yaml_rs's reading of a text (None for any problem: yamlio then reads it and reports it), or None
    when yaml_rs is not installed.  Made once, on first use (yaml_rs is imported only then)."""
    try:
        import yaml_rs
    except ImportError:  # pragma: no cover - a runtime dependency; yamlio still works
        return None
    options = {"parse_datetime": False, "duplicate_key_policy": yaml_rs.DuplicateKeyPolicy.Error,
               # No alias may be expanded here: a stream with aliases is read (and measured) by yamlio.
               "alias_limits": yaml_rs.AliasLimits(max_total_replayed_events=0)}

    def load(part: str) -> Any:
        if not part.endswith("\n"):
            return None  # (every caller's text ends with a line break; the comment below needs one)
        try:
            # A comment line last: yaml_rs reads an empty block scalar at the very end of its input as "\n".
            return yaml_rs.loads(part + "#\n", **options)
        except Exception:  # noqa: BLE001 - any problem (recursion too): yamlio reads it and reports it
            return None

    return load


def _native_batches(text: str, parts: _Split, indexes: list[int]) -> Iterator[list] | None:
    """yaml_rs's values of the items ``indexes``, a batch at a time (each batch parsed as ``items:``
    and the items' lines, the same YAML as in the whole text); None, or a shorter run, when yaml_rs
    cannot read all of it (yamlio reads it and reports it)."""
    load = _native_loader()
    if load is None or not isinstance(load(parts.header), dict):
        return None

    def batches() -> Iterator[list]:
        starts = parts.starts
        for first in range(0, len(indexes), _BATCH):
            batch = indexes[first:first + _BATCH]
            doc = load("items:\n" + "".join(text[starts[i]:starts[i + 1]] for i in batch))
            items = doc.get("items") if isinstance(doc, dict) else None
            if not isinstance(items, list) or len(items) != len(batch):
                return
            yield items

    return batches()


# An item's depth counts from the ResourceList: the document (1) and its items list (2).
_ITEM_LEVEL = 2

# A file's text that is one block-style mapping: its first line that is not blank or a comment is a plain key.
_MAPPING_FIRST = _Pattern(r"\A(?:[ ]*(?:#[^\n]*)?\n)*[A-Za-z_][\w.-]*:(?:[ ]|\n)")


def load_document(text: str, measure: limits.Measure | None = None, memo: dict[str, str] | None = None,
                  ) -> list[Any] | None:
    """:func:`yamlio.load_all` of one file's text, read by yaml_rs, or None: yamlio must read it.

    What ``secretref-fn render`` reads: thousands of small files, one object
    each.  Only a text yaml_rs reads exactly as yamlio does takes this path,
    by the rules the items of a ResourceList follow (see :func:`split` and
    :data:`_DIFFERS`): one block-style mapping (after an optional ``---``
    line), characters both read alike, nothing ``_DIFFERS`` finds, within
    the depth cap; anything else, and any yaml_rs error, is yamlio's to read
    and report.  ``memo`` shares strings across calls (see :func:`_compact`).
    """
    body = text[4:] if text.startswith("---\n") else text
    if not body.endswith("\n") or not _splittable_characters(body) or _MARKERS.search(body):
        return None  # several documents, directives, or characters yaml_rs reads otherwise
    if _MAPPING_FIRST.match(body) is None:
        return None  # not a block mapping (JSON, a sequence, a scalar, a quoted or complex key)
    padded = "\n" + body  # _DIFFERS's patterns start with the character before a token
    if _items_where(_CANDIDATE, padded, [1, len(padded)], _DIFFERS):
        return None
    load = _native_loader()
    value = load(body) if load is not None else None
    if type(value) is not dict:
        return None
    value, depth, _ = _compact(value, memo if memo is not None else {})
    if depth > limits.CAPS.maxDepth:
        return None  # yamlio reports it, with the line
    if measure is not None:
        measure.depth = max(measure.depth, depth)
    return [value]


# Generated objects are written this many at a time: the text of all of them is never held at once.
_RUN = 256
# The items' text is kept compressed in blocks of about this many characters.
_BLOCK = 1 << 20


class _Texts:
    """The items' input text, compressed a block at a time (zlib's fastest level: the L benchmark's
    32 MB take about 4 MB).  Items are written in input order, so each block is decompressed once
    (the last one stays open)."""

    def __init__(self, text: str, starts: list[int]):
        self._starts = starts
        self._firsts: list[int] = []  # the first item of each block
        self._blocks: list[tuple[int, bytes]] = []  # (where the block starts in the text, its compressed text)
        count = len(starts) - 1
        first = 0
        while first < count:
            end = max(bisect.bisect_left(starts, starts[first] + _BLOCK, first + 1, count), first + 1)
            self._firsts.append(first)
            self._blocks.append((starts[first], zlib.compress(text[starts[first]:starts[end]].encode("utf-8"), 1)))
            first = end
        self._open: tuple[int, str] = (-1, "")

    def span(self, index: int) -> str:
        """Item ``index``'s text, through its last line break."""
        block = bisect.bisect_right(self._firsts, index) - 1
        if self._open[0] != block:
            self._open = (block, zlib.decompress(self._blocks[block][1]).decode("utf-8"))
        base = self._blocks[block][0]
        return self._open[1][self._starts[index] - base:self._starts[index + 1] - base]


class Reader:
    """Loads a ResourceList for :func:`krm.parse_resource_list` and writes the output back.

    ``reader = Reader(); rl = krm.parse_resource_list(text, measure, reader.load)``;
    then ``reader.dump(pipeline.run(rl))``.

    ``project``, given an item that will be written back as its input text,
    returns the part of it the pipeline reads (or None: all of it); only
    that part is kept, so a large package's data is never all in memory.
    """

    def __init__(self, project: Callable[[dict], dict | None] | None = None) -> None:
        self._project = project
        self._kept: _Texts | None = None
        self._parts: _Split | None = None
        self._texts: dict[int, tuple[Any, int]] = {}  # id of an item written as its text -> (item, index)
        self.fast = False  # whether the last load took the fast path

    def load(self, text: str, measure: limits.Measure | None = None) -> list[Any]:
        """:func:`yamlio.load_all`'s documents, measured the same way (depth; aliases never get here)."""
        self._texts, self._kept, self._parts = {}, None, None
        self.fast = False
        measure = measure if measure is not None else limits.Measure()
        docs = self._load_fast(text, measure)
        if docs is None:
            self._texts, self._parts = {}, None
            return yamlio.load_all(text, measure)
        self.fast = True
        self._kept = _Texts(text, self._parts.starts)  # unchanged items are written as their text
        return docs

    def _load_fast(self, text: str, measure: limits.Measure) -> list[Any] | None:
        parts = split(text)
        if parts is None:
            return None
        starts = parts.starts
        count = len(starts) - 1
        # Items yaml_rs could read differently from yamlio, and items yamlio.dump would write differently.
        exact = parts.suspect | _items_where(_CANDIDATE, text, starts, _DIFFERS)
        native = _native_batches(text, parts, [i for i in range(count) if i not in exact])
        if native is None:
            return None
        found = limits.Measure()
        try:
            docs = [d for d in yamlio.load_all(parts.header, found) if d is not None]
        except (yamlio.YamlError, limits.LimitError):
            return None  # reported by yamlio on the whole text, with its line (the header's lines are not its)
        if len(docs) != 1 or not isinstance(docs[0], dict) or docs[0].get("items") is not None:
            return None
        self._parts = parts
        items: list = [None] * count
        memo: dict[str, str] = {}
        values = (v for batch in native for v in batch)
        for index in range(count):
            if index in exact:
                value, depth = self._read_exact(text, index)
                if value is None:
                    return None
            else:
                value = next(values, None)
                if type(value) is not dict:
                    if value is None:
                        return None  # yaml_rs could not read a batch
                    value, depth = self._read_exact(text, index)  # not a mapping: an error result, rare
                    if value is None:
                        return None
                else:
                    value, depth, odd = _compact(value, memo)
                    if not (odd and _plain_trap(text, starts[index] - 1, starts[index + 1])):
                        # written back as its text
                        if self._project is not None:
                            value = self._project(value) or value  # the rest of the copy is freed at once
                        self._texts[id(value)] = (value, index)
            if depth + _ITEM_LEVEL > limits.CAPS.maxDepth:
                return None  # yamlio reports it, with the line
            found.depth = max(found.depth, depth + _ITEM_LEVEL)
            items[index] = value
        docs[0]["items"] = items
        measure.depth = max(measure.depth, found.depth)
        return docs

    def _read_exact(self, text: str, index: int) -> tuple[Any, int]:
        """(yamlio's value of one item, its depth), or (None, 0) when it must be read with the whole text.

        Read exactly; written by yamlio.dump (no anchors, tags, merge keys out).
        """
        starts = self._parts.starts
        exact_measure = limits.Measure()
        try:
            docs = yamlio.load_all("items:\n" + text[starts[index]:starts[index + 1]], exact_measure)
        except (yamlio.YamlError, limits.LimitError):
            return None, 0
        if exact_measure.aliases or len(docs) != 1 or not isinstance(docs[0], dict) or list(docs[0]) != ["items"]:
            return None, 0  # aliases are measured over the whole stream
        items = docs[0]["items"]
        if not isinstance(items, list) or len(items) != 1 or items[0] is None:
            return None, 0
        return items[0], exact_measure.depth - _ITEM_LEVEL

    def text_of(self, item: Any) -> str | None:
        """The input text of an item that passed through unchanged (same object), else None."""
        entry = self._texts.get(id(item))
        if entry is None or entry[0] is not item:
            return None
        return self._item_text(entry[1])

    def _item_text(self, index: int) -> str:
        """An item's input text as an entry of the output's ``items:`` (``- `` at column 0, like yamlio.dump)."""
        chunk = self._kept.span(index)
        indent = self._parts.indent
        return re.sub(rf"(?m)^ {{{indent}}}", "", chunk) if indent else chunk

    def dump(self, rl: krm.ResourceList) -> str:
        """``yamlio.dump(rl.to_dict())``, with unchanged items written as their input text."""
        return "".join(self.dump_parts(rl))

    def dump_parts(self, rl: krm.ResourceList) -> Iterator[str]:
        """:meth:`dump` in pieces, so a large output is never held twice (text and bytes) at once;
        :class:`krm.Deferred` items are built as they are written, a few at a time."""
        if not rl.items:
            yield dump(rl.to_dict())
            return
        rest = krm.ResourceList([], rl.function_config, rl.results).to_dict()
        del rest["items"]
        yield yamlio.dump({"apiVersion": rest.pop("apiVersion"), "kind": rest.pop("kind")}) + "items:\n"
        run: list = []
        for item in rl.items:
            text = self.text_of(item)
            if text is None:
                run.append(item.build() if isinstance(item, krm.Deferred) else item)
                if len(run) == _RUN:  # a list's entries are written independently: same text in pieces
                    yield dump(run)
                    run = []
                continue
            if run:
                yield dump(run)
                run = []
            yield text
        if run:
            yield dump(run)
        if rest:
            yield dump(rest)


# --- writing generated objects ---------------------------------------------------------


class _Unsupported(Exception):
    """Data the block emitter below does not write exactly like yamlio.dump."""


_SCALARS: dict[Any, str] = {}  # a string by itself, other scalars by (type, ...)
_LINE_BREAK = _Pattern("[\n\x85\u2028\u2029]")  # what PyYAML breaks a line at
_CACHED = 20_000


# A string PyYAML writes plain unless a YAML reader would take it for something else
# (yamlio.needs_quotes): starts with a letter, no spaces, no indicators; a colon only inside.
_PLAIN = _Pattern(r"[A-Za-z][A-Za-z0-9_./-]*(?::[A-Za-z0-9_./-]+)*\Z")


def _scalar(value: Any) -> str:
    """A single-line scalar as yamlio.dump writes it (plain, quoted), cached by value."""
    kind = type(value)
    if kind is str:
        key: Any = value
    elif kind is yamlio.RawScalar:
        key = (kind, value.tag, value.text)
    elif value is None or kind is bool:
        key = (kind, value)
    else:
        raise _Unsupported
    text = _SCALARS.get(key)
    if text is None:
        if kind is str and _PLAIN.match(value) and not yamlio.needs_quotes(value):
            text = value  # most names, paths and annotations: no need to ask PyYAML
        elif kind is str and "\n" in value:
            raise _Unsupported  # block scalars are indented by context: leave them to PyYAML
        else:
            text = yamlio.dump(value)
            text = text[:-5] if text.endswith("\n...\n") else text[:-1]
            if _LINE_BREAK.search(text):  # a folded scalar: its next lines are indented by context
                raise _Unsupported
        if len(_SCALARS) < _CACHED:  # the first values met are the repeated ones (kinds, keys, stores)
            _SCALARS[key] = text
    return text


_KEYS: dict[str, str] = {}  # the text of a mapping key this emitter writes (checked once), by the key


def _key(key: Any) -> str:
    text = _KEYS.get(key) if type(key) is str else None
    if text is None:
        if type(key) is not str or not key or len(key) > 120:
            raise _Unsupported  # PyYAML writes long keys as "? key"
        text = _scalar(key)
        if len(_KEYS) < _CACHED:
            _KEYS[key] = text
    return text


# The loops below look strings up in the caches themselves (most values are cached strings):
# a function call per scalar was a third of the writer's time.

def _emit_mapping(data: dict, indent: str, out: list, first_prefix: str | None = None) -> None:
    prefix = first_prefix
    keys, scalars = _KEYS, _SCALARS
    for key, value in data.items():
        text = keys.get(key) if type(key) is str else None
        head = (indent if prefix is None else prefix) + (text if text is not None else _key(key)) + ":"
        prefix = None
        kind = type(value)
        if kind is str:
            text = scalars.get(value)
            out.append(f"{head} {text if text is not None else _scalar(value)}\n")
        elif kind is dict or kind is list:
            _emit_value(value, head, indent, out, mapping_value=True)
        else:
            out.append(f"{head} {_scalar(value)}\n")


def _emit_value(value: Any, head: str, indent: str, out: list, mapping_value: bool) -> None:
    kind = type(value)
    if kind is dict:
        if not value:
            out.append(f"{head} {{}}\n")
        elif mapping_value:
            out.append(head + "\n")
            _emit_mapping(value, indent + "  ", out)
        else:  # a sequence entry: the first key on the dash's line
            _emit_mapping(value, indent + "  ", out, first_prefix=head + " ")
    elif kind is list:
        if not value:
            out.append(f"{head} []\n")
        elif mapping_value:  # indentless: entries at the key's indentation
            out.append(head + "\n")
            _emit_sequence(value, indent, out)
        else:
            _emit_sequence(value, indent + "  ", out, first_prefix=head + " ")
    else:
        out.append(f"{head} {_scalar(value)}\n")


def _emit_sequence(data: list, indent: str, out: list, first_prefix: str | None = None) -> None:
    prefix = first_prefix
    scalars = _SCALARS
    for value in data:
        head = (indent if prefix is None else prefix) + "-"
        prefix = None
        if type(value) is str:
            text = scalars.get(value)
            out.append(f"{head} {text if text is not None else _scalar(value)}\n")
        else:
            _emit_value(value, head, indent, out, mapping_value=False)


def dump_all(docs: list[Any]) -> str:
    """``yamlio.dump_all(docs)``, byte for byte: each mapping by :func:`dump`, ``---`` between them."""
    if not all(type(doc) is dict and doc for doc in docs):
        return yamlio.dump_all(docs)  # (a scalar document may end with "...")
    return "---\n".join(dump(doc) for doc in docs)


def dump(data: Any) -> str:
    """``yamlio.dump(data)``, byte for byte, several times faster on plain block data.

    Mappings with string keys, lists, and single-line scalars are written
    here (each distinct scalar's text comes from yamlio.dump once); a
    top-level entry holding anything else (a multi-line string, a key of
    another type) is written by yamlio.dump alone, which gives the same text
    since top-level entries do not depend on each other.
    """
    if type(data) is dict and data:
        entries, emit, alone = data.items(), _emit_mapping, lambda entry: {entry[0]: entry[1]}
    elif type(data) is list and data:
        entries, emit, alone = ((None, v) for v in data), _emit_sequence, lambda entry: [entry[1]]
    else:
        return yamlio.dump(data)
    out: list[str] = []
    for entry in entries:
        part: list[str] = []
        try:
            key, value = entry
            if key is not None and type(value) is list and value:  # an indentless list: entries at column 0
                _emit_mapping({key: None}, "", part)
                part = [part[0][:-len(" null\n")] + "\n", dump(value)]
                out.extend(part)
                continue
            emit(alone(entry), "", part)
        except _Unsupported:
            part = [yamlio.dump(alone(entry))]
        out.extend(part)
    return "".join(out)
