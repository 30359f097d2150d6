"""Loading both Sloth spec formats into one model, and every bad spec as file:line:field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from change_mgmt.documents import DocumentError
from change_mgmt.slo.load import load_catalog, load_slo_file
from change_mgmt.slo.model import EventsSli, RawSli
from tests.change_mgmt.slo.test_sloth_parity import SLOTH
from tests.conftest import REPO_ROOT

SLOS = REPO_ROOT / "slos"

GOOD = """\
version: "prometheus/v1"
service: "chat"
labels:
  owner: sre
slos:
  - name: "availability"
    objective: 99.5
    sli:
      events:
        error_query: sum(rate(x{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(x[{{ .window }}]))
    alerting:
      name: ChatBudgetBurn
"""


def write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(DocumentError) as caught:
        load_slo_file(path, display_path=path.name)
    return [str(p) for p in caught.value.problems]


def test_both_formats_of_the_team_slo_load_to_the_same_model() -> None:
    prometheus = load_slo_file(SLOS / "mattermost-api.yaml")
    kubernetes = load_slo_file(SLOS / "mattermost-api.k8s.yaml")
    assert prometheus.spec_format == "prometheus/v1"
    assert kubernetes.spec_format == "sloth.slok.dev/v1"
    assert prometheus.slos == kubernetes.slos
    (slo,) = prometheus.slos
    assert slo.id == "mattermost-api-requests-availability" and slo.objective == 99.5
    assert slo.sli == EventsSli(
        'sum(rate(mattermost_api_time_count{status_code=~"(5..|429|499)"}[{{.window}}]))',
        "sum(rate(mattermost_api_time_count[{{.window}}]))",
    )


def test_sloths_base_specs_in_both_formats_load_alike() -> None:
    prometheus = load_slo_file(SLOTH / "in-base.yaml")
    kubernetes = load_slo_file(SLOTH / "in-base-k8s.yaml")
    assert prometheus.slos == kubernetes.slos
    first, second = prometheus.slos
    # Labels merge spec → SLO; alert labels merge alerting → page/ticket, as Sloth merges.
    assert first.labels == {"global01k1": "global01v1", "global02k1": "global02v1"}
    assert first.page_alert is not None and first.page_alert.labels == {
        "alert01k1": "alert01v1",
        "alert03k1": "alert03v1",
    }
    assert isinstance(second.sli, RawSli)
    assert second.page_alert is None and second.ticket_alert is None


def test_the_catalog_counts_an_slo_written_in_both_formats_once() -> None:
    catalog = load_catalog([SLOS], relative_to=REPO_ROOT)
    ((slo, files),) = catalog.slos()
    assert slo.id == "mattermost-api-requests-availability"
    assert sorted(f.path for f in files) == [
        "slos/mattermost-api.k8s.yaml",
        "slos/mattermost-api.yaml",
    ]


def test_the_same_id_saying_different_things_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, GOOD, "a.yaml")
    write(tmp_path, GOOD.replace("99.5", "99.9"), "b.yaml")
    with pytest.raises(DocumentError) as caught:
        load_catalog([tmp_path], relative_to=tmp_path)
    (problem,) = caught.value.problems
    assert str(problem).startswith("b.yaml:6:") and "slos[0].name" in str(problem)
    assert "also defined in a.yaml:6, differently" in str(problem)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        # an unknown field, with a suggestion
        (
            ("    objective: 99.5\n", "    objective: 99.5\n    objectiv: 1\n"),
            "spec.yaml:8:5: slos[0].objectiv: unknown field",
        ),
        # objective outside (0, 100]
        (
            ("99.5", "100.5"),
            "spec.yaml:7:16: slos[0].objective: objective 100.5 is outside (0, 100]",
        ),
        (("99.5", "0"), "spec.yaml:7:16: slos[0].objective: objective 0.0 is outside (0, 100]"),
        # a query without {{.window}}
        (
            ("[{{ .window }}]", "[5m]"),
            "spec.yaml:11:22: slos[0].sli.events.total_query: the query must use the {{.window}}",
        ),
        # another template variable
        (
            ("[{{ .window }}]", "[{{ .window }}] offset {{.period}}"),
            "spec.yaml:11:22: slos[0].sli.events.total_query: {{.period}} is not supported",
        ),
        # a bad SLO name and a bad service
        (
            ('name: "availability"', 'name: "-availability"'),
            "spec.yaml:6:11: slos[0].name: '-availability' is not a valid name",
        ),
        (
            ('service: "chat"', 'service: "chat api"'),
            "spec.yaml:2:10: service: 'chat api' is not a valid name",
        ),
        # the wrong version
        (
            ('"prometheus/v1"', '"prometheus/v2"'),
            "spec.yaml:1:10: version: Input should be 'prometheus/v1'",
        ),
        # a label YAML reads as a number
        (
            ("owner: sre", "tier: 1"),
            'spec.yaml:4:9: labels.tier: Input should be a valid string; YAML reads 1 as a number: write it in quotes, e.g. "1"',
        ),
        # a label the generator owns
        (
            ("owner: sre", "sloth_id: x"),
            "spec.yaml:4:3: labels.sloth_id: invalid key: 'sloth_id': labels starting with 'sloth_' are set by the generator",
        ),
        # no alert name while alerts are on
        (
            ("      name: ChatBudgetBurn\n", "      labels: {a: b}\n"),
            "spec.yaml:13:7: slos[0].alerting: name is required unless both",
        ),
        # a Sloth plugin
        (
            ("    alerting:", "    plugins: {chain: [{id: x}]}\n    alerting:"),
            "spec.yaml:12:14: slos[0].plugins: Sloth plugins are not supported here (we do not run Sloth plugins)",
        ),
        # the same error and total query
        (
            ("x[{{ .window }}]", 'x{code=~"5.."}[{{.window}}]'),
            "spec.yaml:10:9: slos[0].sli.events: the error and total queries are the same query",
        ),
    ],
)
def test_a_bad_spec_is_reported_at_its_file_line_and_field(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    old, new = change
    assert old in GOOD
    found = problems(write(tmp_path, GOOD.replace(old, new, 1)))
    assert any(expected in problem for problem in found), found


def test_no_sli_and_two_slis_are_refused(tmp_path: Path) -> None:
    raw = "      raw:\n        error_ratio_query: x[{{.window}}]\n"
    both = GOOD.replace("    alerting:", raw.replace("      raw", "      raw", 1) + "    alerting:")
    (found,) = problems(write(tmp_path, both))
    assert found.startswith("spec.yaml:9:7: slos[0].sli: give exactly one SLI")


def test_duplicate_slo_names_point_at_the_second(tmp_path: Path) -> None:
    slo = GOOD.split("slos:\n", 1)[1]
    (found,) = problems(write(tmp_path, GOOD + slo))
    assert found == (
        "spec.yaml:14:11: slos[1].name: duplicate SLO name 'availability' (first on line 6)"
    )


def test_kubernetes_field_names_are_camel_case(tmp_path: Path) -> None:
    text = (SLOS / "mattermost-api.k8s.yaml").read_text().replace("errorQuery", "error_query")
    found = problems(write(tmp_path, text))
    assert "spec.yaml:18:11: spec.slos[0].sli.events.error_query: unknown field" in found
    assert any("spec.slos[0].sli.events.errorQuery: required field is missing" in p for p in found)


def test_a_runbook_url_in_a_spec_is_refused(tmp_path: Path) -> None:
    text = GOOD + "      annotations:\n        runbook_url: https://elsewhere.example\n"
    (found,) = problems(write(tmp_path, text))
    assert (
        "slos[0].alerting.annotations.runbook_url: invalid key: runbook_url is set by the generator"
        in found
    )


def test_a_file_of_neither_format_says_what_it_expected(tmp_path: Path) -> None:
    (found,) = problems(write(tmp_path, "service: chat\n"))
    assert found.startswith("spec.yaml:1:1: (document): not a Sloth SLO spec")


def test_a_windows_file_is_not_taken_for_a_spec() -> None:
    (found,) = problems(SLOTH / "windows" / "7d.yaml")
    assert found.startswith("7d.yaml:2:7: kind: this is an AlertWindows file, not an SLO spec")
