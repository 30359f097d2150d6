"""Read SLO spec files (either Sloth format) into ``Slo``s, every problem at file:line:field.

A directory is read as all its ``*.yaml``/``*.yml`` files. The same SLO may be written
in both formats (``slos/`` keeps the ``prometheus/v1`` spec and the
``PrometheusServiceLevel`` side by side): one id in two files is fine when both describe
the identical SLO, and an error when they differ.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ValidationError

from change_mgmt.documents import (
    DOCUMENT_FIELD,
    DocumentError,
    LoadedDocument,
    Location,
    Problem,
    field_name,
    load_yaml_mapping,
    validation_problems,
)
from change_mgmt.slo import spec as specs
from change_mgmt.slo.errors import SloError
from change_mgmt.slo.model import Alert, EventsSli, RawSli, Slo, SloFile, SpecFormat

SLO_DIRECTORY = "slos"
MAX_SPEC_BYTES = 256 * 1024
_SUFFIXES = (".yaml", ".yml")


def load_slo_file(path: Path, *, display_path: str | None = None) -> SloFile:
    """One spec file, in whichever of Sloth's two formats it is written."""
    document = load_yaml_mapping(path, display_path=display_path, max_bytes=MAX_SPEC_BYTES)
    model, spec_format, prefix = _format_of(document)
    try:
        parsed = model.model_validate(document.data)
    except ValidationError as exc:
        raise DocumentError(validation_problems(exc, document, model)) from None
    service = parsed.spec if isinstance(parsed, specs.PrometheusServiceLevel) else parsed
    assert isinstance(service, specs.PrometheusV1Spec | specs.K8sServiceLevelSpec)
    slos = tuple(_slo(service, slo) for slo in service.slos)
    names: dict[str, tuple[int, int, str]] = {}
    problems = []
    for index, slo in enumerate(slos):
        location: Location = (*prefix, "slos", index, "name")
        if slo.id in names:
            message = f"duplicate SLO name {slo.name!r} (first on line {names[slo.id][0]})"
            problems.append(document.problem(location, message))
        else:
            names[slo.id] = (*document.position(location), field_name(location))
    if problems:
        raise DocumentError(problems)
    return SloFile(path=document.path, spec_format=spec_format, slos=slos, names=names)


def _format_of(document: LoadedDocument) -> tuple[type[BaseModel], SpecFormat, Location]:
    data = document.data
    if "version" in data:
        return specs.PrometheusV1Spec, "prometheus/v1", ()
    if data.get("kind") == "AlertWindows":
        message = "this is an AlertWindows file, not an SLO spec: give it as the windows file"
        raise DocumentError([document.problem(("kind",), message)])
    if "apiVersion" in data or "kind" in data:
        return specs.PrometheusServiceLevel, "sloth.slok.dev/v1", ("spec",)
    raise DocumentError(
        [
            Problem(
                document.path,
                1,
                1,
                DOCUMENT_FIELD,
                'not a Sloth SLO spec: expected `version: "prometheus/v1"` or '
                "`apiVersion: sloth.slok.dev/v1` with `kind: PrometheusServiceLevel`",
            )
        ]
    )


def _slo(service: specs.PrometheusV1Spec | specs.K8sServiceLevelSpec, slo: specs.SloSpec) -> Slo:
    sli: EventsSli | RawSli
    if slo.sli.events is not None:
        sli = EventsSli(slo.sli.events.error_query, slo.sli.events.total_query)
    else:
        assert slo.sli.raw is not None
        sli = RawSli(slo.sli.raw.error_ratio_query)
    return Slo(
        service=service.service,
        name=slo.name,
        objective=slo.objective,
        sli=sli,
        labels={**service.labels, **slo.labels},
        description=slo.description,
        page_alert=_alert(slo.alerting, slo.alerting.page_alert),
        ticket_alert=_alert(slo.alerting, slo.alerting.ticket_alert),
    )


def _alert(alerting: specs.AlertingSpec, alert: specs.AlertSpec) -> Alert | None:
    if alert.disable:
        return None
    return Alert(
        name=alerting.name,
        labels={**alerting.labels, **alert.labels},
        annotations={**alerting.annotations, **alert.annotations},
    )


@dataclass(frozen=True)
class SloCatalog:
    """Every SLO found under some paths, each id once, with the files that define it."""

    files: tuple[SloFile, ...]

    def slos(self) -> list[tuple[Slo, list[SloFile]]]:
        found: dict[str, tuple[Slo, list[SloFile]]] = {}
        for slo_file in self.files:
            for slo in slo_file.slos:
                found.setdefault(slo.id, (slo, []))[1].append(slo_file)
        return sorted(found.values(), key=lambda entry: entry[0].id)

    def get(self, slo_id: str) -> Slo:
        for slo, _ in self.slos():
            if slo.id == slo_id:
                return slo
        known = ", ".join(slo.id for slo, _ in self.slos()) or "none"
        raise SloError(f"no SLO {slo_id!r} (known: {known})")


def spec_files(paths: Iterable[Path]) -> list[Path]:
    """The spec files named by ``paths``: files as given, directories searched."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix in _SUFFIXES and p.is_file())
        elif path.exists():
            found.append(path)
        else:
            raise SloError(f"{path}: no such file or directory")
    return found


def load_catalog(paths: Sequence[Path], *, relative_to: Path | None = None) -> SloCatalog:
    """All SLOs in ``paths``; one ``DocumentError`` carrying the problems of every file."""
    files, problems = [], []
    for path in spec_files(paths):
        try:
            files.append(load_slo_file(path, display_path=_shown(path, relative_to)))
        except DocumentError as exc:
            problems += exc.problems
    problems += _conflicts(files)
    if problems:
        raise DocumentError(problems)
    return SloCatalog(tuple(files))


def _conflicts(files: Sequence[SloFile]) -> list[Problem]:
    first: dict[str, tuple[Slo, SloFile]] = {}
    problems = []
    for slo_file in files:
        for slo in slo_file.slos:
            if slo.id not in first:
                first[slo.id] = (slo, slo_file)
                continue
            other, other_file = first[slo.id]
            if other != slo:
                message = (
                    f"SLO {slo.id!r} is also defined in {other_file.where(slo.id)}, "
                    "differently; the same SLO written in both formats must say the same thing"
                )
                line, column, name = slo_file.names[slo.id]
                problems.append(Problem(slo_file.path, line, column, name, message))
    return problems


def _shown(path: Path, relative_to: Path | None) -> str:
    if relative_to is not None:
        try:
            return str(path.resolve().relative_to(relative_to.resolve()))
        except ValueError:
            pass
    return str(path)
