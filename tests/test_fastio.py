"""The fast I/O path (krm_fn/fastio.py) means exactly what the yamlio path means.

Both paths are tested on every golden case: the data read is the same value
for value and type (RawScalar text included), and the output reads back to
the same data.  Then the cases where the fast path must step aside.
"""
from __future__ import annotations

import pytest

from conftest import ROOT, TESTDATA, run_process, run_text, run_text_exact, same
from krm_fn import fastio, krm, limits, yamlio
from krm_fn.yamlio import RawScalar

CASES = sorted(p.name for p in TESTDATA.iterdir() if (p / "input.yaml").is_file())
RL = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n"


def load(text: str) -> tuple[list, fastio.Reader]:
    reader = fastio.Reader()
    return reader.load(text), reader


def load_as_yamlio_does(text: str) -> tuple[list, fastio.Reader, list] | None:
    """(what the reader read, the reader, what yamlio reads); None when both refuse it with the same error."""
    try:
        expected = yamlio.load_all(text)
    except yamlio.YamlError as exc:
        with pytest.raises(yamlio.YamlError) as got:
            load(text)
        assert str(got.value) == str(exc)
        return None
    docs, reader = load(text)
    return docs, reader, expected


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("name", ["input.yaml", "expected.yaml"])
def test_fast_load_reads_what_yamlio_reads(case: str, name: str) -> None:
    text = (TESTDATA / case / name).read_text()
    docs, reader = load(text)
    assert reader.fast, "every golden file is block style: the fast path should take it"
    assert same(docs, yamlio.load_all(text)) is None


@pytest.mark.parametrize("case", CASES)
def test_both_paths_write_the_same_data(case: str) -> None:
    text = (TESTDATA / case / "input.yaml").read_text()
    fast, fast_out = run_text(text)
    exact, exact_out = run_text_exact(text)
    assert same(yamlio.load_all(fast), yamlio.load_all(exact)) is None
    assert [r.line() for r in fast_out.results] == [r.line() for r in exact_out.results]


@pytest.mark.parametrize("case", CASES)
def test_fast_dump_is_yamlio_dump_byte_for_byte(case: str) -> None:
    _, out = run_text_exact((TESTDATA / case / "input.yaml").read_text())
    for data in (out.to_dict(), out.items, {"items": out.items, "x": {}, "y": []}):
        assert fastio.dump(data) == yamlio.dump(data)
    assert fastio.dump_all(out.items) == yamlio.dump_all(out.items)  # what `render` prints


@pytest.mark.parametrize("docs", [
    [], [{}], [{"a": 1}, "scalar"], [{"a": "x"}, None], [{"a": "line one\nline two\n"}, {"b": []}],
])
def test_fast_dump_all_is_yamlio_dump_all_for_any_documents(docs: list) -> None:
    assert fastio.dump_all(docs) == yamlio.dump_all(docs)


@pytest.mark.parametrize("data", [
    {"a": "line one\nline two\n", "b": ["x", {"c": None, "d": True}], "e": [[RawScalar(yamlio.INT, "0755")]]},
    [{"on": "yes", "k" * 200: "long key", "12:30": "=", "": "empty key"}, 7, 1.5, []],
    {"nested": {"deeper": [{"s": "it's \"quoted\"", "t": "#hash", "u": " lead", "v": "tab\there"}]}},
])
def test_fast_dump_falls_back_where_it_must(data) -> None:
    assert fastio.dump(data) == yamlio.dump(data)


HEAD_COMMENT_ITEM = """\
- # What kpt sends for a file that starts with a comment (most files do)
  apiVersion: v1
  kind: ConfigMap
  metadata:
    name: settings # say no
    namespace: acme
  data:
    MODE: "production"
    PORT: "8080"
    FLAG: "on"
    NOTE: turn it on
    LIST: [a, b]
"""


@pytest.mark.parametrize("item", [
    HEAD_COMMENT_ITEM.replace("    LIST: [a, b]\n", ""),
    # a quoted YAML 1.1 word with such a word in a comment or inside a phrase: only plain ones count
    HEAD_COMMENT_ITEM.replace("- # What kpt", "- apiVersion: v1\n  # What kpt").replace("  apiVersion: v1\n", "", 1)
    .replace("    LIST: [a, b]\n", ""),
    # ... with the word after ": " or "- " in a comment, after a quoted value or not
    HEAD_COMMENT_ITEM.replace('    FLAG: "on"\n', '    FLAG: "on" # was: no\n    OLD: x # - no longer used\n')
    .replace("    LIST: [a, b]\n", ""),
])
def test_an_item_is_written_back_as_its_text_with_head_comment_and_quoted_words(item: str) -> None:
    """kpt sends a file's leading comment on the item's first line ("- # ..."): such an item is no
    different from any other (it was read alone and re-emitted: quoting lost in the user's file)."""
    out, result = run_text(RL + item)
    assert not result.results.has_errors
    assert out == RL + item


def test_unchanged_items_keep_their_text_and_changed_ones_are_dumped() -> None:
    text = RL + """\
- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: keep   # a comment stays
    namespace: acme
  data:
    list:    "kept as written"
    when: '2001-12-14'
- apiVersion: openchoreo.dev/v1alpha1
  kind: SecretReference
  metadata: {name: git, namespace: acme}
  spec:
    template:
      type: kubernetes.io/basic-auth
    data:
        - secretKey: username
          remoteRef: {key: secret/acme/git, property: username}
        - secretKey: password
          remoteRef: {key: secret/acme/git, property: password}
- apiVersion: openchoreo.dev/v1alpha1
  kind: BuildPlane
  metadata:
    name: ci
    namespace: acme
  spec:
    secretStore: ci-store
- apiVersion: openchoreo.dev/v1alpha1
  kind: Build
  metadata:
    name: greeter
    namespace: acme
  spec:
    repository:
        url: https://github.com/acme/greeter.git
        credentialsRef: git
"""
    out, result = run_text(text)
    assert not result.results.has_errors
    assert "    name: keep   # a comment stays\n    namespace: acme\n" in out
    assert '    list:    "kept as written"\n' in out
    # flow mappings are read by yamlio and written block style
    assert "metadata: {name: git" not in out and "  metadata:\n    name: git\n" in out
    # the Build gets an annotation: dumped, so its odd indentation is normalised
    assert "    repository:\n      url: https://github.com/acme/greeter.git\n" in out
    assert same(yamlio.load_all(out), yamlio.load_all(run_text_exact(text)[0])) is None
    again, _ = run_text(out)
    assert again == out


@pytest.mark.parametrize("item, reason", [
    ("mode: 0755", "octal-looking integer keeps its text"),
    ("ratio: 1e3", "float keeps its text"),
    ("when: 2001-12-14", "timestamp keeps its text"),
    ("big: 1_000", "underscored number"),
    ("a: &x {b: 1}\n  c: *x", "anchors and aliases"),
    ("<<: {b: 1}\n  c: 2", "merge key"),
    ("x: !!str 12", "tag"),
    ("1: one", "integer key"),
    ("? complex\n  : key", "complex key"),
    ("args: [--port, 8080]", "flow sequence"),
])
def test_items_the_native_parser_could_misread_are_read_by_yamlio(item: str, reason: str) -> None:
    text = RL + f"- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: c\n  {item}\n"
    docs, reader = load(text)
    # an alias anywhere sends the whole stream to yamlio, which measures what aliases expand to (limits.py)
    assert reader.fast == ("*x" not in item), reason
    assert same(docs, yamlio.load_all(text)) is None, reason
    assert reader.text_of(docs[0]["items"][0]) is None, f"{reason}: must be dumped, not passed through"


def test_canonical_integers_and_yaml_1_2_words_take_the_native_path() -> None:
    text = RL + ("- apiVersion: v1\n  kind: Service\n  metadata:\n    name: s\n  spec:\n    ports:\n"
                 "    - port: 80\n      targetPort: -1\n      big: 123456789012345678\n      small: -123456789012345678\n"
                 "    flag: true\n    none: ~\n    word: yes-really\n"
                 "    schedule: '*/5 * * * *'\n    every: \"*/10 * * * *\"\n")  # quoted: no alias here
    docs, reader = load(text)
    item = docs[0]["items"][0]
    assert reader.text_of(item) is not None
    assert item["spec"]["ports"][0]["port"] == RawScalar(yamlio.INT, "80")
    assert same(docs, yamlio.load_all(text)) is None


@pytest.mark.parametrize("token", ["0_x1F", "0_b-1", "0b-1", "0o+7", ".5_5", ".5e1_0", "1e_+5", "9" * 19, "-" + "9" * 19,
                                   "9" * 400, "9" * 5000])
def test_what_go_yaml_reads_as_a_number_once_it_drops_underscores_or_past_18_digits_is_read_by_yamlio(
        token: str) -> None:
    """yaml_rs reads these otherwise (a string; an integer Python cannot even write out past 4,300 digits):
    _DIFFERS sends their items to yamlio, and they come out as yamlio reads them."""
    text = RL + f"- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: c\n  data:\n    v: {token}\n"
    docs, reader = load(text)
    assert same(docs, yamlio.load_all(text)) is None
    assert reader.text_of(docs[0]["items"][0]) is None


@pytest.mark.parametrize("word", ["on", "off", "yes", "no", "y", "N", "12:30", "="])
def test_yaml_1_1_traps_are_dumped_quoted_not_passed_through(word: str) -> None:
    text = RL + f"- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: c\n  data:\n    v: {word}\n"
    docs, reader = load(text)
    assert reader.fast and reader.text_of(docs[0]["items"][0]) is None
    out, _ = run_text(text)
    assert f"    v: '{word}'\n" in out


@pytest.mark.parametrize("value", ["'on'", '"yes"', "turn on the light", "y-axis", "no-op", "at 12:30", "|\n      on",
                                   "sha256:abc", "a:1"])
def test_values_a_yaml_1_1_reader_reads_alike_pass_through_as_text(value: str) -> None:
    """Only a whole plain key or value is a YAML 1.1 trap: quoted ones, phrases and block scalars are not."""
    text = RL + f"- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: c\n  data:\n    v: {value}\n"
    docs, reader = load(text)
    assert reader.fast and reader.text_of(docs[0]["items"][0]) is not None
    assert same(docs, yamlio.load_all(text)) is None


@pytest.mark.parametrize("item", ["on: x", "k: [1, 'on']", "k:\n    - Off", "k: -1:30", "k: +1_0:30.5",
                                  "k:\n    - on: x", "k:\n    no", "k:    yes", "k: # note\n    N", "k:\n  - - y",
                                  "k:\n    \"a # b\": no", "k:\n    'a # b': off", "k: \"x\\\" # y\"\n  z: on"])
def test_a_yaml_1_1_trap_anywhere_in_an_item_is_dumped(item: str) -> None:
    text = RL + f"- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: c\n  {item}\n"
    docs, reader = load(text)
    assert reader.text_of(docs[0]["items"][0]) is None
    assert same(docs, yamlio.load_all(text)) is None


@pytest.mark.parametrize("text", [
    '{"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": [{"kind": "A"}]}',
    RL + "-\n  apiVersion: v1\n  kind: ConfigMap\n",
    RL + "- apiVersion: v1\n\tkind: ConfigMap\n",
    RL.replace("\n", "\r\n") + "- apiVersion: v1\r\n  kind: ConfigMap\r\n",
    "---\n" + RL + "- apiVersion: v1\n  kind: ConfigMap\n",
    RL + "# a comment\n  x: 1\n- apiVersion: v1\n  kind: ConfigMap\n",
    RL + "- apiVersion: v1\n  kind: ConfigMap\n- &a x\n- *a\n",  # aliases are measured over the whole stream
    RL + "- a: 'x\n- b: y'\n",  # an item start inside a quoted scalar
    RL + "- a: 'x\n- b: y\n",  # ... never closed
    RL + '- a: "one\n- two\nthree: 4"\n',  # ... and a line that looks like a top-level key
    RL + "- a: 1.5",  # no line break at the end: a kept block scalar there would change
    RL + "- kind: A\n  b: |\n    c",
    RL + "- a: yes",
    RL + '- kind: A\n  b: "x\x85y"\n',  # NEL, LS, PS: line breaks to PyYAML, not to yaml_rs
    RL + "- kind: A\n  b: x\u2028y\n",
    RL + "- kind: A\n  b: |\n    x\u2029y\n",
])
def test_shapes_that_cannot_be_split_use_yamlio(text: str) -> None:
    loaded = load_as_yamlio_does(text)
    if loaded is None:
        return
    docs, reader, expected = loaded
    assert not reader.fast
    assert same(docs, expected) is None


@pytest.mark.parametrize("char", ["\t", "\r", "\x00", "\x07", "\x0b", "\x1f", "\x7f", "\x85", "\u2028", "\u2029",
                                  "\ufffe", "\x80"])
@pytest.mark.parametrize("other", ["", "\u00e9"])  # an ASCII text, and one that is not (checked another way)
def test_a_character_the_fast_path_cannot_cut_on_sends_the_text_to_yamlio(char: str, other: str) -> None:
    text = RL + f"- kind: A\n  b: x{other}\n  c: y{char}z\n"
    assert fastio.split(text.replace(char, "")) is not None
    assert fastio.split(text) is None


ODD = "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: plain\n"


@pytest.mark.parametrize("odd", [
    "- {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}\n",  # flow style
    "- apiVersion: v1\n kind: ConfigMap\n",  # content indented one column (an error)
    "- &a x\n",  # an anchor on the item
    "- 'quoted': key\n",
    # go-yaml (kpt) writes the continuation lines of a quoted scalar at column 0
    "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: c\n  data:\n    banner: 'line one\n\n      line two\n\n'\n",
])
def test_an_item_the_fast_path_cannot_read_is_read_alone_by_yamlio(odd: str) -> None:
    """One odd item (flow style, quoted continuation lines at column 0...) does not slow down the others."""
    loaded = load_as_yamlio_does(RL + ODD + odd + ODD.replace("plain", "after"))
    if loaded is None:
        return
    docs, reader, expected = loaded
    assert reader.fast
    assert same(docs, expected) is None
    first, middle, last = docs[0]["items"]
    assert reader.text_of(first) == ODD and reader.text_of(last) == ODD.replace("plain", "after")
    assert reader.text_of(middle) is None  # written by yamlio.dump


@pytest.mark.parametrize("text", [
    RL + "- apiVersion: v1\n  kind: ConfigMap\n  kind: Secret\n",  # duplicate key
    RL + "- apiVersion: v1\n  kind: ConfigMap\n  data: *nowhere\n",  # unknown alias
    RL + "- apiVersion: v1\n  kind: \"ConfigMap\n",  # unterminated string
    RL + "- apiVersion: v1\n  kind: ConfigMap\n  x: \x07\n",  # a character YAML forbids
    RL + "- apiVersion: v1\n  kind: ConfigMap\n  x: &'q' 12\n",  # an anchor name go-yaml refuses (yaml_rs takes it)
    RL + "- apiVersion: v1\n  kind: ConfigMap\n  x: *'q'\n",  # an alias name like the end of a quoted cron
])
def test_errors_are_yamlios_with_its_line_numbers(text: str) -> None:
    with pytest.raises(yamlio.YamlError) as exact:
        yamlio.load_all(text)
    with pytest.raises(krm.InputError) as fast:
        krm.parse_resource_list(text, load=fastio.Reader().load)
    assert str(fast.value) == str(exact.value)


def test_empty_resource_list_skips_the_pipeline_with_the_same_output() -> None:
    text = RL.replace("items:\n", "items: []\n")
    proc = run_process([], text.encode())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode() == run_text_exact(text)[0]


@pytest.mark.parametrize("case", CASES)
def test_fast_load_measures_what_yamlio_measures(case: str) -> None:
    """The depth limits.py checks is the same on both paths (aliases always take yamlio's path)."""
    from krm_fn import limits

    text = (TESTDATA / case / "input.yaml").read_text()
    fast, exact = limits.Measure(), limits.Measure()
    fastio.Reader().load(text, fast)
    yamlio.load_all(text, exact)
    assert (fast.depth, fast.aliases) == (exact.depth, exact.aliases)


def test_deep_item_is_measured_like_yamlio() -> None:
    from krm_fn import limits

    nested = "".join(f"{'  ' * (i + 1)}k{i}:\n" for i in range(40)) + "  " * 41 + "leaf: 1\n"
    text = RL + "- apiVersion: v1\n  kind: ConfigMap\n  deep:\n" + nested.replace("\n", "\n  ").rstrip(" ")
    fast, exact = limits.Measure(), limits.Measure()
    docs, reader = fastio.Reader(), None
    out = docs.load(text, fast)
    assert docs.fast and same(out, yamlio.load_all(text, exact)) is None
    assert fast.depth == exact.depth > 40


@pytest.mark.parametrize("knob, small", [
    ("_RUN", 1),  # generated objects are written a few at a time
    ("_BLOCK", 64),  # the items' text is kept compressed in blocks
])
@pytest.mark.parametrize("case", CASES)
def test_output_does_not_depend_on_the_sizes_memory_is_kept_in(case: str, knob: str, small: int, monkeypatch) -> None:
    """What is written must not depend on how many objects are written at once or how the kept text is cut."""
    text = (TESTDATA / case / "input.yaml").read_text()
    whole, _ = run_text(text)
    monkeypatch.setattr(fastio, knob, small)
    assert run_text(text)[0] == whole


@pytest.mark.parametrize("case", CASES)
def test_items_parsed_in_small_batches_read_what_yamlio_reads(case: str, monkeypatch) -> None:
    """Items are parsed a batch at a time (memory); what is read must not depend on the batch size."""
    monkeypatch.setattr(fastio, "_BATCH", 2)
    text = (TESTDATA / case / "input.yaml").read_text()
    docs, reader = load(text)
    assert reader.fast
    assert same(docs, yamlio.load_all(text)) is None


ITEM = "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: cm-{n}\n"


@pytest.mark.parametrize("bad", [
    "- apiVersion: v1\n  kind: ConfigMap\n  kind: Secret\n",  # duplicate key in a later batch
    "- apiVersion: v1\n  kind: ConfigMap\n  data: *nowhere\n",  # unknown alias in a later batch
])
def test_an_error_in_a_later_batch_is_yamlios_error(bad: str, monkeypatch) -> None:
    monkeypatch.setattr(fastio, "_BATCH", 2)
    text = RL + "".join(ITEM.format(n=n) for n in range(5)) + bad
    with pytest.raises(yamlio.YamlError) as exact:
        yamlio.load_all(text)
    reader = fastio.Reader()
    with pytest.raises(krm.InputError) as fast:
        krm.parse_resource_list(text, load=reader.load)
    assert str(fast.value) == str(exact.value)
    assert not reader.fast


def test_a_header_yaml_rs_cannot_read_sends_everything_to_yamlio() -> None:
    text = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nfunctionConfig: &c {}\nextra: *c\nitems:\n" \
        + ITEM.format(n=0)
    docs, reader = load(text)
    assert not reader.fast
    assert same(docs, yamlio.load_all(text)) is None


def test_repeated_strings_are_shared_in_what_is_read() -> None:
    """yaml_rs makes a string object per occurrence; the fast path keeps one per distinct short string."""
    docs, reader = load(RL + ITEM.format(n=0) + ITEM.format(n=1))
    first, second = docs[0]["items"]
    assert reader.fast
    assert next(iter(first["metadata"])) is next(iter(second["metadata"]))  # the key "name"
    assert first["kind"] is second["kind"]


DEPLOYMENT = RL + """\
- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: web
    namespace: shop
    annotations:
      note: kept
  spec:
    replicas: 2
    template:
      spec:
        containers:
        - name: web
          image: example.com/web:1
          env:
          - name: PLAIN
            value: x
          - name: DB
            valueFrom:
              secretKeyRef:
                name: db
                key: password
        volumes:
        - name: tmp
          emptyDir: {}
        - name: creds
          secret:
            secretName: creds
"""


def test_the_function_keeps_only_what_the_pipeline_reads_of_pass_through_items() -> None:
    from krm_fn import consumers, function

    full = load(DEPLOYMENT)[0][0]["items"][0]
    reader = function.function_reader()
    item = reader.load(DEPLOYMENT)[0]["items"][0]
    assert reader.text_of(item) is not None  # written back as its text
    assert item == {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": full["metadata"]}  # no pod spec
    # what the consumer finder reads of it was found as it was read, with the field paths of the full object
    family, refs = consumers.workload_refs(item)
    assert (family, list(refs)) == ("data", list(consumers.workload_refs(full)[1]))
    assert [(r.name, r.field, r.key) for r in refs] == [
        ("db", "spec.template.spec.containers[0].env[1].valueFrom.secretKeyRef.name", "password"),
        ("creds", "spec.template.spec.volumes[1].secret.secretName", None)]


SECRET_REFERENCES = RL + """\
- apiVersion: openchoreo.dev/v1alpha1
  kind: SecretReference
  metadata:
    name: db
    namespace: shop
  spec:
    template:
      type: kubernetes.io/basic-auth
      metadata:
        labels:
          team: shop
    data:
    - secretKey: username
      remoteRef:
        key: secret/shop/db
        property: username
    - secretKey: password
      remoteRef:
        key: secret/shop/db
        property: password
    refreshInterval: 30m
    targetPlane:
      kind: ClusterDataPlane
      name: default
- apiVersion: openchoreo.dev/v1alpha1
  kind: SecretReference
  metadata:
    name: broken
    namespace: shop
  spec:
    template:
      type: Opaque
    data:
    - secretKey: password
      remoteRef:
        key: ""
"""


def test_the_function_keeps_secretreferences_as_the_inventory_types_them() -> None:
    """The spec is typed as it is read (plain data, or the problems the inventory reports); not kept."""
    from krm_fn import function, inventory

    fulls = load(SECRET_REFERENCES)[0][0]["items"]
    reader = function.function_reader()
    items = reader.load(SECRET_REFERENCES)[0]["items"]
    for item, full in zip(items, fulls):
        assert reader.text_of(item) is not None  # written back as its text
        assert type(item) is inventory.SecretReference
        assert item == {"apiVersion": full["apiVersion"], "kind": full["kind"], "metadata": full["metadata"]}
        assert item.spec == inventory.spec_of(full)
    valid, broken = items
    assert valid.spec.type == "kubernetes.io/basic-auth" and valid.spec.keys() == ["username", "password"]
    assert valid.spec.labels == {"team": "shop"} and valid.spec.refresh_interval == "30m"
    assert str(valid.spec.target_plane) == "ClusterDataPlane/default"
    assert broken.spec == [("spec.data[0].remoteRef.key",
                            "invalid SecretReference: String should have at least 1 character")]


def test_an_item_reconcile_changes_is_read_whole() -> None:
    """A stale credentials annotation is removed from the item: it is written from its data, all of it."""
    text = DEPLOYMENT.replace("      note: kept\n",
                              "      note: kept\n      secretref-fn.openchoreo.dev/credentials-secret: old\n")
    out, _ = run_text(text)
    assert "credentials-secret" not in out
    assert same(yamlio.load_all(out)[0]["items"][0]["spec"], yamlio.load_all(text)[0]["items"][0]["spec"]) is None


from hypothesis import example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_NAME_LIKE = st.text(alphabet="aAyYnNoOtTfFeE019_./:- ", min_size=1, max_size=12)


@pytest.mark.parametrize("char", ["\n", "\x85", "\u2028", "\u2029"])
def test_a_nested_string_with_a_line_break_is_written_as_pyyaml_writes_it(char: str) -> None:
    """PyYAML indents the lines after a break inside a quoted scalar by its depth: not a cached text."""
    data = {"x": {"y": {"a": f"p{char}q r", "b": "z"}}, "c": f"p{char}q r"}
    assert fastio.dump(data) == yamlio.dump(data)


@settings(max_examples=3000, deadline=None)
@given(value=st.one_of(_NAME_LIKE, st.sampled_from(["y", "Yes", "on", "OFF", "null", "True", "e1", "E3",
                                                     "sha256:ab", "a:", "a: b", "a:b:c", "x.1e3", "n"])))
def test_scalars_written_without_pyyaml_are_what_pyyaml_writes(value: str) -> None:
    assert fastio.dump({value: [value]}) == yamlio.dump({value: [value]})


@pytest.mark.parametrize("batch", [500, 1])
def test_a_kept_block_scalar_keeps_its_trailing_blank_lines(batch: int, monkeypatch) -> None:
    """The newline before the next item ends an item's last line: with keep chomping (|+, what go-yaml
    writes for "x\\n\\n") it is content, whether the item is read in a batch, last in one, or written back."""
    monkeypatch.setattr(fastio, "_BATCH", batch)
    item = "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: {n}\n  data:\n    f: |+\n      x\n\n"
    text = RL + item.format(n="a") + item.format(n="b")
    docs, reader = load(text)
    assert reader.fast and same(docs, yamlio.load_all(text)) is None
    assert [i["data"]["f"] for i in docs[0]["items"]] == ["x\n\n", "x\n\n"]
    out, _ = run_text(text)
    assert same(yamlio.load_all(out), yamlio.load_all(run_text_exact(text)[0])) is None


# Text made of the pieces _DIFFERS looks for (numbers of every form, timestamps, indicators) and what surrounds them.
_PIECES = ["-1", "-.5", "+1", ".5", "-.inf", ".nan", "0x1F", "0o17", "0b1", "1_000", "1e3", "-1e-3", "0755", "12:30",
           "2001-12-14", "2001-12-14T10:00:00Z", "80", "0", "-0", "<<", "[", "]", "{", "}", "!t", "&a", "*a", "*'",
           "? ", ": ", "- ", "-", ",", ":", " ", "\n", "  ", "'", '"', "#", "x", "key", "on",
           "_", "_1", "1e0_", "-_1", ".iNf", ".nAn", "[]", "{}", "\\ud83d", "\\uDC00", "\\", "u",
           "0_x", "0_b-", "e_+", "1F", "9" * 19]
_YAMLISH = st.lists(st.sampled_from(_PIECES), max_size=12).map("".join)


@settings(max_examples=2000, deadline=None)
@given(text=_YAMLISH)
@example(text=" +1 ")
@example(text=" -.5 ")
@example(text="\n-1: ")
@example(text=": [a]")
def test_the_candidate_scan_finds_every_place_the_native_parser_could_misread(text: str) -> None:
    """_items_where looks for _DIFFERS only where _CANDIDATE matches: it must match wherever _DIFFERS does."""
    for at in range(len(text)):
        if fastio._DIFFERS.match(text, at):
            assert fastio._CANDIDATE.match(text, at), (text, at)


# --- one file at a time: what `secretref-fn render` reads -------------------------------------------------

def _yaml_files() -> list:
    return sorted(p for top in ("examples", "testdata") for p in (ROOT / top).rglob("*")
                  if p.suffix in (".yaml", ".yml", ".json") and p.is_file())


def _read_file_both_ways(text: str) -> tuple[list | None, list | None, int, int]:
    """(fastio.load_document's documents or None, yamlio's or None when it refuses the text, both depths)."""
    fast_measure, exact_measure = limits.Measure(), limits.Measure()
    fast = fastio.load_document(text, fast_measure)
    try:
        exact = [d for d in yamlio.load_all(text, exact_measure) if d is not None]
    except (yamlio.YamlError, limits.LimitError):
        exact = None
    return fast, exact, fast_measure.depth, exact_measure.depth


def _check_corpus(paths: list) -> int:
    """Every file the fast path reads, it reads as yamlio does (values, types, RawScalar text, depth);
    the number of files it read."""
    read = 0
    for path in paths:
        try:
            text = yamlio.decode(path.read_bytes())
        except yamlio.YamlError:
            continue  # a bad-input case (bytes that are not text): the reader never gets it
        fast, exact, fast_depth, exact_depth = _read_file_both_ways(text)
        if fast is None:
            continue
        read += 1
        assert exact is not None, f"{path}: yamlio refuses what the fast path read"
        assert same(fast, exact) is None, f"{path}: {same(fast, exact)}"
        assert fast_depth == exact_depth, path
    return read


def test_files_read_by_yaml_rs_read_as_yamlio_reads_them() -> None:
    paths = _yaml_files()
    read = _check_corpus(paths)
    # Not vacuous: most of the project's own files (one object each, block style) take the fast path.
    assert len(paths) > 300 and read > len(paths) // 2, (read, len(paths))


def test_openchoreo_samples_read_by_yaml_rs_read_as_yamlio_reads_them(shared_dir) -> None:
    paths = sorted((shared_dir / "samples" / "openchoreo").glob("*.yaml"))
    assert len(paths) > 20
    _check_corpus(paths)


@pytest.mark.parametrize("text", [
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: '1'\n  n: 10\n  on: yes\n",
    "---\napiVersion: v1\nkind: ConfigMap\n",  # one leading document marker
    "# a comment\n\napiVersion: v1\nkind: ConfigMap\nspec:\n  x: {}\n  y: []\n",
])
def test_a_block_mapping_file_takes_the_fast_path(text: str) -> None:
    fast, exact, fast_depth, exact_depth = _read_file_both_ways(text)
    assert fast is not None
    assert same(fast, exact) is None and fast_depth == exact_depth


@pytest.mark.parametrize("text", [
    "mode: 0755\n", "ratio: 1e3\n", "when: 2001-12-14\n", "big: 1_000\n", "x: !!str 12\n",
    "a: &x {b: 1}\nc: *x\n", "<<: {b: 1}\nc: 2\n", "1: one\n", "? complex\n: key\n", "args: [--port, 8080]\n",
    '{"apiVersion": "v1", "kind": "ConfigMap"}\n',  # JSON
    "- a\n- b\n",  # a sequence
    "'quoted': key\n",
    "plain scalar\n",
    "a: 1\n---\nb: 2\n",  # several documents
    "%YAML 1.1\n---\na: 1\n",  # a directive
    "a: 1\n...\n",
    "a: 1",  # no line break at the end
    "a:\n\tb: 1\n", "a: 1\r\nb: 2\r\n", "a: x\x85y\n", "a: x\u2028y\n",  # tabs, CR, NEL, LS
    "a: 1\na: 2\n",  # a duplicate key: yamlio's error, with its line
    "a: [\n",  # bad syntax
    "",  # empty
])
def test_files_the_fast_path_leaves_to_yamlio(text: str) -> None:
    assert fastio.load_document(text) is None


def test_a_file_deeper_than_the_cap_is_left_to_yamlio() -> None:
    levels = limits.CAPS.maxDepth + 2
    deep = "".join(f"{'  ' * i}k{i}:\n" for i in range(levels)) + "  " * levels + "v: 1\n"
    assert fastio.load_document(deep) is None
    with pytest.raises((yamlio.YamlError, limits.LimitError)):
        yamlio.load_all(deep)


# Found by fuzzing yaml-rs against yamlio (a second review): text yaml-rs reads otherwise, in a file and in an item.
MISREAD_BY_YAML_RS = [
    "a: _1\n", "a: -__1\n", "a: +_.5\n", "a: _1_000\n", "a: 1e0_\n", "a: 1e_3\n", "_1: x\n",  # underscores anywhere
    "a: .Nan\n", "a: .iNf\n", "a: -.INf\n", "a: +.inF\n", "a: .nAN\n",  # special floats in mixed case
    "a: |\n", "a: |+\n", "a: >\n\n\n", "a: |2\n", "k:\n  a: |\n", "k:\n- |\n",  # an empty block scalar at the end
    "a: 1\n\ufeffb: 2\n", "a:\n  b: x\n\ufeff c: y\n",  # U+FEFF at a line start (libyaml skips it)
    "a: 1\n: 2\n", "a:\n  : 2\n", "k:\n- : 2\n", "a: 1\n[]: 2\n", "a: 1\n{}: 2\n",  # empty and flow keys
    'a: "\\ud83d\\ude00"\n', "a: 'x'\nb: \"\\uD800\\uDC00\"\n",  # an escaped surrogate pair
]


@pytest.mark.parametrize("text", MISREAD_BY_YAML_RS)
def test_a_file_yaml_rs_misreads_is_left_to_yamlio(text: str) -> None:
    fast, exact, fast_depth, exact_depth = _read_file_both_ways(text)
    if exact is None:
        assert fast is None, f"yamlio refuses {text!r}, the fast path read {fast!r}"
    elif fast is not None:
        assert same(fast, exact) is None and fast_depth == exact_depth


@pytest.mark.parametrize("text", MISREAD_BY_YAML_RS)
@pytest.mark.parametrize("last", [True, False], ids=["last item", "not last"])
def test_an_item_yaml_rs_misreads_is_read_as_yamlio_reads_it(text: str, last: bool) -> None:
    body = "".join(f"    {line}\n" if line else "\n" for line in text[:-1].split("\n"))
    item = f"- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: c\n  data:\n{body}"
    loaded = load_as_yamlio_does(RL + (item if last else item + ODD))
    if loaded is None:
        return
    docs, _, expected = loaded
    assert same(docs, expected) is None
