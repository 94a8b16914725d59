"""Command line: ``python -m fastcca compare A.npy B.npy`` and ``python -m fastcca demo``."""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np

MEASURES = ("svcca", "pwcca", "cca", "mean_cca", "cka")


def _load(path: str, layout: str) -> np.ndarray:
    try:
        a = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise SystemExit(f"error: {path}: no such file")
    except ValueError as exc:
        raise SystemExit(f"error: {path}: not a plain .npy array ({exc})")
    if not isinstance(a, np.ndarray):
        raise SystemExit(f"error: {path}: expected a .npy array, got an archive (.npz); save one array with np.save")
    if a.ndim != 2:
        raise SystemExit(f"error: {path}: expected a 2-D array, got shape {a.shape}")
    return a.T if layout == "neurons-first" else a


def _compare(args) -> int:
    import fastcca
    x, y = _load(args.a, args.layout), _load(args.b, args.layout)
    kw = dict(backend=args.backend)
    if args.measure != "cka":
        kw["eps"] = args.eps
    if args.measure == "svcca":
        keep = float(args.keep) if "." in args.keep or "e" in args.keep.lower() else int(args.keep)
        res = fastcca.svcca(x, y, keep=keep, keep_rule=args.keep_rule, **kw)
    elif args.measure == "pwcca":
        res = fastcca.pwcca(x, y, variant=args.variant, **kw)
    elif args.measure == "cca":
        res = fastcca.cca(x, y, **kw)
    elif args.measure == "mean_cca":
        res = fastcca.mean_cca(x, y, **kw)
    else:
        res = fastcca.linear_cka(x, y, **kw)
    if args.json:
        d = res.to_dict()
        d.pop("cca", None)
        print(json.dumps(d, indent=1, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))
    else:
        print(res)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fastcca", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("compare", help="similarity of two saved activation arrays (.npy)")
    c.add_argument("a", help="activations of the first layer, .npy (n, p) samples-first by default")
    c.add_argument("b", help="activations of the second layer, .npy (n, q)")
    c.add_argument("--measure", choices=MEASURES, default="svcca")
    c.add_argument("--layout", choices=("samples-first", "neurons-first"), default="samples-first",
                   help="samples-first: (datapoints, neurons), as PyTorch batches; neurons-first: the "
                        "google/svcca convention")
    c.add_argument("--keep", default="0.99", help="SVCCA: a fraction (0.99) or a count of directions (20)")
    c.add_argument("--keep-rule", choices=("sum", "variance"), default="sum")
    c.add_argument("--variant", choices=("paper", "reference"), default="paper", help="PWCCA variant")
    c.add_argument("--eps", type=float, default=1e-10, help="relative regularisation (see docs/definitions.md)")
    c.add_argument("--backend", choices=("auto", "cpu", "cuda"), default="auto")
    c.add_argument("--json", action="store_true", help="print the result as JSON")
    sub.add_parser("demo", help="compare two MLPs trained on scikit-learn's digits, layer by layer")
    args = parser.parse_args(argv)
    if args.cmd == "compare":
        return _compare(args)
    from .demo import run
    run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
