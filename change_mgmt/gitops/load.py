"""Read one environment's GitOps files and check them, every problem at file:line:field.

The two files of an environment are checked together: an application whose selector
matches none of the environment's clusters is an error, as is a mutable revision where
the environment requires exact ones (:data:`~.revisions.EXACT_REVISION_ENVIRONMENTS`);
elsewhere a mutable revision is a warning.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from change_mgmt.documents import (
    DocumentError,
    LoadedDocument,
    Location,
    Problem,
    load_yaml_mapping,
    validation_problems,
)
from change_mgmt.gitops.apps import Application, AppsFile, Project, ValuesRepo
from change_mgmt.gitops.clusters import (
    CLUSTER_ID_LABEL,
    CLUSTER_TYPE_LABEL,
    CREDENTIAL_WORDS,
    Cluster,
    ClustersFile,
)
from change_mgmt.gitops.errors import GitOpsError
from change_mgmt.gitops.naming import MAX_APPLICATION_NAME, application_name
from change_mgmt.gitops.revisions import (
    EXACT_REVISION_ENVIRONMENTS,
    is_exact,
    mutable_revision_message,
)
from policies.naming import dns_label_problem

# Argo CD's own project, and the one of the root app-of-apps (GitOpsPlatform's).
RESERVED_PROJECTS = frozenset({"default", "bootstrap"})
GITOPS_DIRECTORY = "gitops"
CLUSTERS = "clusters"
APPS = "apps"
MAX_FILE_BYTES = 256 * 1024
_Model = TypeVar("_Model", bound=BaseModel)


@dataclass(frozen=True)
class GitOpsFile:
    """Where one file of an environment is read from and how it is shown."""

    path: Path
    shown: str


@dataclass(frozen=True)
class GitOpsEnvironment:
    """The checked clusters and applications of one environment."""

    name: str
    clusters: tuple[Cluster, ...]
    applications: tuple[Application, ...]
    valuesRepo: ValuesRepo | None = None
    warnings: tuple[Problem, ...] = field(default=())
    projects: tuple[Project, ...] = ()


def _parse(source: GitOpsFile, model: type[_Model]) -> tuple[_Model, LoadedDocument, list[Problem]]:
    document = load_yaml_mapping(source.path, display_path=source.shown, max_bytes=MAX_FILE_BYTES)
    problems = _credential_problems(document) if model is ClustersFile else []
    try:
        return model.model_validate(document.data), document, problems
    except ValidationError as exc:
        refused = {(p.line, p.column, p.field) for p in problems}
        found = [
            _suggested(p, model)
            for p in validation_problems(exc, document, model)
            if (p.line, p.column, p.field) not in refused
        ]
        raise DocumentError([*problems, *found]) from None


def _suggested(problem: Problem, model: type[BaseModel]) -> Problem:
    """``problem`` with "did you mean" added for an unknown key inside a list entry, which
    ``validation_problems`` only suggests outside lists."""
    if problem.message != "unknown field":
        return problem
    location = [
        int(p[1:-1]) if p.startswith("[") else p for p in re.split(r"\.|(?=\[)", problem.field)
    ]
    current: Any = model
    for part in location[:-1]:
        if isinstance(part, int):
            continue  # the list's item type was taken at its field
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return problem
        info = current.model_fields.get(part)
        current = info.annotation if info else None
        # list[X] and X | None → X
        current = next((a for a in typing.get_args(current) if a is not type(None)), current)
    if not (isinstance(current, type) and issubclass(current, BaseModel)):
        return problem
    known = list(current.model_fields)
    close = difflib.get_close_matches(str(location[-1]), known, n=1, cutoff=0.6)
    message = (
        f"unknown field; did you mean {close[0]!r}?"
        if close
        else f"unknown field; allowed fields are {', '.join(sorted(known))}"
    )
    return dataclasses.replace(problem, message=message)


def _credential_problems(document: LoadedDocument) -> list[Problem]:
    """A key that looks like a static credential, anywhere in a cluster but its labels."""
    problems: list[Problem] = []
    clusters = document.data.get(CLUSTERS)

    def walk(value: Any, location: Location) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                if location[2:] == () and key == "labels":
                    continue
                squashed = str(key).lower().replace("-", "").replace("_", "")
                if any(word in squashed for word in CREDENTIAL_WORDS):
                    message = (
                        "static credentials are refused: Argo CD assumes the cluster's "
                        "roleArn (awsAuthConfig); remove this key"
                    )
                    problems.append(document.problem((*location, key), message, at_key=True))
                else:
                    walk(item, (*location, key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, (*location, index))

    if isinstance(clusters, list):
        for index, cluster in enumerate(clusters):
            walk(cluster, (CLUSTERS, index))
    return problems


def _duplicates(
    document: LoadedDocument, section: str, names: Iterable[str], what: str
) -> list[Problem]:
    first: dict[str, int] = {}
    problems = []
    for index, name in enumerate(names):
        location: Location = (section, index, "name")
        if name in first:
            line = document.position((section, first[name], "name"))[0]
            problems.append(
                document.problem(location, f"duplicate {what} {name!r} (first on line {line})")
            )
        else:
            first[name] = index
    return problems


def _label_problems(document: LoadedDocument, clusters: list[Cluster]) -> list[Problem]:
    problems = []
    for index, cluster in enumerate(clusters):
        for key, expected, source in (
            (CLUSTER_TYPE_LABEL, cluster.type.value, "type"),
            (CLUSTER_ID_LABEL, cluster.name, "name"),
        ):
            found = cluster.labels.get(key)
            if found is None:
                location: Location = (CLUSTERS, index, "labels")
                problems.append(
                    document.problem(location, f"labels must include {key}: {expected}")
                )
            elif found != expected:
                message = f"is {found!r} but must be the cluster's {source}, {expected!r}"
                problems.append(document.problem((CLUSTERS, index, "labels", key), message))
    servers: dict[str, str] = {}
    for index, cluster in enumerate(clusters):
        if cluster.server in servers:
            message = (
                f"cluster {servers[cluster.server]!r} has the same server; "
                "Argo CD keys clusters by server"
            )
            problems.append(document.problem((CLUSTERS, index, "server"), message))
        servers.setdefault(cluster.server, cluster.name)
    return problems


def _revision_problem(
    document: LoadedDocument, location: Location, revision: str, environment: str
) -> tuple[list[Problem], list[Problem]]:
    """(errors, warnings) for one revision in ``environment``."""
    if is_exact(revision):
        return [], []
    message = mutable_revision_message(revision)
    if environment in EXACT_REVISION_ENVIRONMENTS:
        return [
            document.problem(location, f"{message} ({environment} requires exact revisions)")
        ], []
    return [], [document.problem(location, f"warning: {message} (allowed in {environment})")]


def _app_problems(
    environment: str, document: LoadedDocument, apps: AppsFile, clusters: tuple[Cluster, ...]
) -> tuple[list[Problem], list[Problem]]:
    errors: list[Problem] = []
    warnings: list[Problem] = []
    revisions: list[tuple[Location, str]] = [
        (("applications", i, "revision"), app.revision) for i, app in enumerate(apps.applications)
    ]
    if apps.valuesRepo is not None:
        revisions.append((("valuesRepo", "revision"), apps.valuesRepo.revision))
    for location, revision in revisions:
        found, warned = _revision_problem(document, location, revision, environment)
        errors += found
        warnings += warned
    for index, app in enumerate(apps.applications):
        if not any(app.clusterSelector.matches(c.labels) for c in clusters):
            message = f"matches none of the {len(clusters)} cluster(s) of {environment}"
            errors.append(document.problem(("applications", index, "clusterSelector"), message))
        longest = max(
            (application_name(app.name, environment, c.name) for c in clusters), key=len, default=""
        )
        if len(longest) > MAX_APPLICATION_NAME:
            message = (
                f"the Application name {longest!r} is {len(longest)} characters; Argo CD "
                f"tracks resources by a label holding it, at most {MAX_APPLICATION_NAME}"
            )
            errors.append(document.problem(("applications", index, "name"), message))
        if app.valueFiles and app.chart is not None and apps.valuesRepo is None:
            message = (
                "a chart's valueFiles are read from valuesRepo: add valuesRepo (repoURL, revision)"
            )
            errors.append(document.problem(("applications", index, "valueFiles"), message))
    project_errors, project_warnings = _project_problems(document, apps)
    return errors + project_errors, warnings + project_warnings


def _project_problems(
    document: LoadedDocument, apps: AppsFile
) -> tuple[list[Problem], list[Problem]]:
    """Reserved project names, projects no application uses, and wildcards (warned)."""
    errors: list[Problem] = []
    warnings: list[Problem] = []
    used = {app.project for app in apps.applications}
    for index, app in enumerate(apps.applications):
        if app.project in RESERVED_PROJECTS:
            message = f"{app.project!r} is reserved ({', '.join(sorted(RESERVED_PROJECTS))})"
            errors.append(document.problem(("applications", index, "project"), message))
    for index, project in enumerate(apps.projects):
        if project.name in RESERVED_PROJECTS:
            message = f"{project.name!r} is reserved ({', '.join(sorted(RESERVED_PROJECTS))})"
            errors.append(document.problem(("projects", index, "name"), message))
        elif project.name not in used:
            message = f"no application names project {project.name!r}"
            errors.append(document.problem(("projects", index, "name"), message))
        for position, kind in enumerate(project.clusterResources):
            if kind.wildcard:
                location: Location = ("projects", index, "clusterResources", position)
                group = kind.group or '""'
                message = (
                    f"warning: {group}/{kind.kind} lets the project's applications create "
                    "every matching cluster-scoped kind (least privilege: name the kinds)"
                )
                warnings.append(document.problem(location, message))
    return errors, warnings


def environment_name(path: Path, shown: str) -> str:
    """The environment a file belongs to: its name without ``.yaml``, a DNS label."""
    problem = dns_label_problem(path.stem)
    if problem or path.suffix not in (".yaml", ".yml"):
        raise GitOpsError(
            f"{shown}: the file name must be <environment>.yaml with a DNS-label environment"
        )
    return path.stem


def load_environment(
    environment: str, clusters_file: GitOpsFile | None, apps_file: GitOpsFile | None
) -> GitOpsEnvironment:
    """Both files of ``environment`` (either may be absent); one ``DocumentError`` with
    every problem of both."""
    problems: list[Problem] = []
    clusters: tuple[Cluster, ...] = ()
    if clusters_file is not None:
        try:
            parsed, document, problems = _parse(clusters_file, ClustersFile)
            names = [c.name for c in parsed.clusters]
            problems += _duplicates(document, CLUSTERS, names, "cluster")
            problems += _label_problems(document, list(parsed.clusters))
            clusters = tuple(parsed.clusters)
        except DocumentError as exc:
            problems += exc.problems
    if apps_file is None:
        if problems:
            raise DocumentError(problems)
        return GitOpsEnvironment(environment, clusters, ())
    if clusters_file is None:
        raise GitOpsError(f"{apps_file.shown}: no clusters file for environment {environment!r}")
    try:
        apps, apps_document, _ = _parse(apps_file, AppsFile)
    except DocumentError as exc:
        raise DocumentError([*problems, *exc.problems]) from None
    problems += _duplicates(
        apps_document, "applications", [a.name for a in apps.applications], "application"
    )
    problems += _duplicates(apps_document, "projects", [p.name for p in apps.projects], "project")
    warnings: list[Problem] = []
    if not problems:  # selectors are judged against clusters that are themselves valid
        found, warnings = _app_problems(environment, apps_document, apps, clusters)
        problems += found
    if problems:
        raise DocumentError(problems)
    return GitOpsEnvironment(
        environment,
        clusters,
        tuple(apps.applications),
        apps.valuesRepo,
        tuple(warnings),
        tuple(apps.projects),
    )
