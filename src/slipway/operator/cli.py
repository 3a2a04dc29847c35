"""`slipway operator`: the CRDs, the manifests a resource becomes, the controller."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
import yaml

operator_app = typer.Typer(help="The Kubernetes operator.", no_args_is_help=True)


@operator_app.command("crds")
def crds(
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write one file per CRD into this folder."
    ),
) -> None:
    """Print the CustomResourceDefinitions (or write them as deploy/crds/ holds them)."""
    from slipway.operator.crds import crd, dump, file_name
    from slipway.operator.kinds import KINDS

    if output is None:
        print(dump([crd(kind) for kind in KINDS.values()]), end="")
        return
    output.mkdir(parents=True, exist_ok=True)
    for kind in KINDS.values():
        (output / file_name(kind)).write_text(dump([crd(kind)]))


@operator_app.command("manifests")
def manifests(
    file: Path = typer.Argument(..., help="A custom resource (YAML); - for stdin."),
) -> None:
    """Print the Kubernetes objects a custom resource becomes (no cluster needed)."""
    from slipway.operator.crds import dump
    from slipway.operator.manifests import OperatorConfig, desired_objects

    text = sys.stdin.read() if str(file) == "-" else file.read_text()
    body = yaml.safe_load(text)
    body.setdefault("metadata", {}).setdefault("uid", "00000000-0000-0000-0000-000000000000")
    print(dump(desired_objects(body, OperatorConfig.from_env())), end="")


@operator_app.command("run")
def run(
    namespace: list[str] = typer.Option(
        [], "--namespace", "-n", help="Namespaces to watch (default: all)."
    ),
) -> None:
    """Run the controller in the foreground (in-cluster, else KUBECONFIG)."""
    from slipway.operator.handlers import run_operator
    from slipway.operator.kube import KubeCluster, load_config
    from slipway.operator.manifests import OperatorConfig
    from slipway.platform import services

    load_config()
    # The store comes from SLIPWAY_DATABASE_URL and SLIPWAY_ARTIFACT_URI (the store Secret).
    run_operator(KubeCluster(), services(), OperatorConfig.from_env(), namespace)


@operator_app.command("execute")
def execute(kind: str = typer.Argument(..., help="TrainingJob, AutoMLJob, ...")) -> None:
    """Run the request in SLIPWAY_REQUEST to its end (what operator pods run)."""
    from slipway.operator.execute import execute as run_request

    final = run_request(kind)
    print(f"{kind}: {final}")
    if final in ("Failed", "Stopped"):
        raise typer.Exit(1)
