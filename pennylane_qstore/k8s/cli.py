"""``qstore k8s torch|keras``: write Kubeflow manifests and a Dockerfile for a training job."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``qstore k8s torch|keras`` to the ``qstore`` parser."""
    parser = subparsers.add_parser(
        "k8s",
        help="write Kubeflow training-job manifests and a Dockerfile",
        description=(
            "Write manifests for Kubeflow's operators (torch: a Trainer v2 TrainJob and a "
            "Training Operator PyTorchJob; keras: a TFJob) plus the Dockerfile of the image."
        ),
    )
    engines = parser.add_subparsers(dest="engine", required=True, metavar="ENGINE")
    options = _options()
    for engine, kinds in (("torch", "TrainJob + PyTorchJob"), ("keras", "TFJob")):
        sub = engines.add_parser(
            engine,
            parents=[options],
            help=f"{kinds} for the {engine} example or your script",
            description=f"Write {kinds} and a Dockerfile. Arguments after '--' go to the script.",
        )
        sub.set_defaults(func=_write)


def _options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--image", required=True, help="image the pods run (see the Dockerfile)")
    options.add_argument("--workers", type=int, required=True, help="pods (nodes)")
    options.add_argument("--name", default=None, help="job name (default qstore-ENGINE)")
    options.add_argument("--namespace", default=None, help="namespace (default: the current one)")
    options.add_argument(
        "--nproc-per-node", type=int, default=1, help="torch processes per pod (default 1)"
    )
    options.add_argument(
        "--min-workers",
        type=int,
        default=None,
        help="torch: fewest pods of the elastic PyTorchJob (the TrainJob runs --workers)",
    )
    options.add_argument("--cpu", default=None, help="CPU per pod (default: --nproc-per-node)")
    options.add_argument("--memory", default="2Gi", help="memory per pod (default 2Gi)")
    options.add_argument("--script", default=None, help="script in the image (default: example)")
    options.add_argument(
        "--env", action="append", default=[], metavar="KEY=VALUE", help="container env (repeat)"
    )
    options.add_argument("--out", default=".", help="directory to write into (default: .)")
    options.add_argument("script_args", nargs="*", help="arguments of the training script")
    return options


def _write(args: argparse.Namespace) -> int:
    from pennylane_qstore.k8s import JobConfig, dockerfile, manifests, to_yaml

    try:
        env = dict(_split_env(item) for item in args.env)
        config = JobConfig(
            engine=args.engine,
            image=args.image,
            workers=args.workers,
            name=args.name,
            namespace=args.namespace,
            nproc_per_node=args.nproc_per_node,
            min_workers=args.min_workers,
            cpu=args.cpu,
            memory=args.memory,
            script=args.script,
            args=args.script_args,
            env=env,
        )
        files = {name: to_yaml(doc) for name, doc in manifests(config).items()}
    except (ValueError, ImportError) as exc:
        print(f"qstore k8s: {exc}", file=sys.stderr)
        return 2
    files["Dockerfile"] = dockerfile(args.engine)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out / name).write_text(text)
        print(out / name)
    jobs = " or ".join(str(out / name) for name in files if name.endswith(".yaml"))
    print(f"build and push {args.image} from {out / 'Dockerfile'}, then kubectl apply -f {jobs}")
    return 0


def _split_env(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise ValueError(f"--env {item!r}: write KEY=VALUE.")
    return key, value
