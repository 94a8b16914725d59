"""Command line: ``python -m fastcca compare A.npy B.npy`` and ``python -m fastcca demo``.

Every user error (a bad argument, an unreadable or malformed file, bad data, an unavailable
backend) is ONE line on stderr, ``error: ...``, and a non-zero exit status:

* 0: success;
* 1: the input could not be used (a file, its data, or the backend);
* 2: the command line itself is wrong (unknown option, bad ``--keep`` / ``--eps`` value);
* 70: an internal error, i.e. a bug in fastcca: the traceback is printed (please report it);
* 130: interrupted (Ctrl-C).

``--debug`` (anywhere on the command line) prints the full traceback of any error instead.
"""
from __future__ import annotations

import argparse
import json
import sys
import traceback

import numpy as np

def _measure_names() -> tuple:
    """The registry's measures and the command line's aliases (``cka``)."""
    from .measures.registry import ALIASES, REGISTRY
    return tuple(REGISTRY) + tuple(ALIASES)


MEASURES = _measure_names()

#: exit statuses (see the module docstring)
EXIT_INPUT, EXIT_USAGE, EXIT_BUG, EXIT_INTERRUPTED = 1, 2, 70, 130


class UserError(Exception):
    """An error the user can act on: printed as one ``error: ...`` line, exit ``status``."""

    def __init__(self, message: str, status: int = EXIT_INPUT):
        super().__init__(message)
        self.status = status


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors raised as a one-line :class:`UserError` (argparse prints the
    usage block and exits itself)."""

    def error(self, message):
        raise UserError(f"{message} (see `{self.prog} --help`)", EXIT_USAGE)


def _keep(text: str):
    """``--keep``: a fraction in (0, 1] or a positive count of directions."""
    from ._validation import check_fraction_or_count
    try:
        value = float(text) if any(c in text for c in ".eE") or text.lower() in ("nan", "inf") else int(text)
        return check_fraction_or_count(value, "--keep")
    except (TypeError, ValueError) as exc:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1] (0.99) or a positive count (20), "
                                         f"got {text!r}") from exc


def _eps(text: str) -> float:
    """``--eps``: a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}") from None
    if not np.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


def _load(path: str, layout: str, what: str) -> np.ndarray:
    """One activation array from a .npy file, checked: a 2-D real numeric, non-empty, finite
    array (``what`` says which argument it is, for the messages)."""
    from ._validation import check_real_matrix
    try:
        a = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file ({what})") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a directory, expected a .npy file ({what})") from None
    except EOFError:
        raise UserError(f"{path}: the file is empty or truncated, expected a .npy array ({what})") from None
    except (ValueError, OSError) as exc:
        raise UserError(f"{path}: not a plain .npy array ({what}; {exc})") from None
    if not isinstance(a, np.ndarray):
        a.close()
        raise UserError(f"{path}: expected a .npy array, got an archive (.npz); save one array with np.save")
    try:
        if a.ndim != 2:
            raise ValueError(f"expected a 2-D array ({layout}), got shape {a.shape}")
        a = a.T if layout == "neurons-first" else a
        target = check_real_matrix(a, path)
    except (TypeError, ValueError) as exc:
        raise UserError(f"{exc} ({what})" if str(exc).startswith(path) else f"{path}: {exc} ({what})") from None
    a = a if target is None else a.astype(target)
    bad = ~np.isfinite(a)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise UserError(f"{path}: {int(bad.sum())} NaN or Inf value(s), the first at datapoint {i}, neuron {j} "
                        f"({what})")
    return a


def _ridge(text: str):
    """``--ridge``: ``gcv`` or a number >= 0."""
    if text == "gcv":
        return "gcv"
    return _eps(text)


def _fraction(text: str) -> float:
    """``--alpha``: a number in [0, 1]."""
    value = _eps(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}")
    return value


#: options of the measures outside the CCA family: option name -> the measure's keyword
_MEASURE_OPTIONS = {"alpha": "alpha", "ridge": "ridge", "score": "score", "average": "average",
                    "raw": "normalize"}


def _measure_kwargs(args, spec) -> dict:
    """The keyword arguments of ``spec``'s function from the command line: the CCA family's
    options as before; another measure's own options, refused when the measure has none such."""
    if spec.name in ("svcca", "pwcca", "cca", "mean_cca", "linear_cka"):
        kw = {} if spec.name == "linear_cka" else {"eps": args.eps}
        if spec.name == "svcca":
            kw.update(keep=args.keep, keep_rule=args.keep_rule)
        if spec.name == "pwcca":
            kw["variant"] = args.variant
        given = [o for o in _MEASURE_OPTIONS if getattr(args, o) not in (None, False)]
        if given:
            raise UserError(f"--{given[0]} does not apply to --measure {args.measure}", EXIT_USAGE)
        return kw
    kw = {}
    for opt, name in _MEASURE_OPTIONS.items():
        v = getattr(args, opt)
        if v in (None, False):
            continue
        if name not in spec.params:
            raise UserError(f"--{opt} does not apply to --measure {args.measure} (it takes "
                            f"{', '.join('--' + k for k, n in _MEASURE_OPTIONS.items() if n in spec.params) or 'none'})",
                            EXIT_USAGE)
        kw[name] = (not v) if opt == "raw" else v
    return kw


def _compare(args) -> int:
    import fastcca
    from .measures.registry import get
    x, y = _load(args.a, args.layout, "first array"), _load(args.b, args.layout, "second array")
    if x.shape[0] != y.shape[0]:
        raise UserError(
            f"{args.a} and {args.b} must hold the same datapoints: {x.shape[0]} vs {y.shape[0]} "
            f"({args.layout} shapes {x.shape} and {y.shape}; --layout neurons-first reads (neurons, datapoints))")
    spec = get(args.measure)
    kw = _measure_kwargs(args, spec)
    if args.null is not None and args.shards is not None:
        raise UserError("--null and --shards: give one of them", EXIT_USAGE)
    opts = dict(debiased_cka=bool(spec.extras))
    if args.shards is not None:
        opts.update(shards=args.shards, shard_by="index")
    if args.null is not None:
        if args.variant != "paper" and spec.name == "pwcca":
            raise UserError("--null: the null baseline takes pwcca's paper variant only", EXIT_USAGE)
        kw.pop("variant", None)
        res = fastcca.null_baseline(fastcca.Moments.from_arrays(x, y, backend=args.backend, **opts),
                                    measure=spec.name, draws=args.null, seed=args.seed, spectra=args.spectra, **kw)
    else:
        m = fastcca.Moments.from_arrays(x, y, backend=args.backend, **opts)
        if args.shards is not None:
            if args.variant != "paper" and spec.name == "pwcca":
                raise UserError("--shards: the jackknife takes pwcca's paper variant only", EXIT_USAGE)
            kw.pop("variant", None)
            res = fastcca.jackknife(m, spec.name, **kw)
        else:
            res = spec(m, **kw)
    if args.json:
        d = res.to_dict()
        d.pop("cca", None)
        if args.null is None and args.shards is None:
            d["kind"] = spec.kind
        print(json.dumps(d, indent=1, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))
    else:
        print(res)
    return 0


def _count(text: str) -> int:
    """``--null``, ``--shards``: a count >= 2."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a count >= 2, got {text!r}") from None
    if value < 2:
        raise argparse.ArgumentTypeError(f"expected a count >= 2, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="print the full traceback of any error")
    parser = _Parser(prog="python -m fastcca", description=__doc__.split("\n\n")[0],
                     parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True, parser_class=_Parser, metavar="{compare,demo}")
    c = sub.add_parser("compare", parents=[common], help="similarity of two saved activation arrays (.npy)")
    c.add_argument("a", help="activations of the first layer, .npy (n, p) samples-first by default")
    c.add_argument("b", help="activations of the second layer, .npy (n, q)")
    c.add_argument("--measure", choices=MEASURES, default="svcca", metavar="MEASURE",
                   help="one of: " + ", ".join(MEASURES) + " (docs/measures.md)")
    c.add_argument("--layout", choices=("samples-first", "neurons-first"), default="samples-first",
                   help="samples-first: (datapoints, neurons), as PyTorch batches; neurons-first: the "
                        "google/svcca convention")
    c.add_argument("--keep", type=_keep, default=0.99,
                   help="SVCCA: a fraction in (0, 1] (0.99) or a count of directions (20)")
    c.add_argument("--keep-rule", choices=("sum", "variance"), default="sum")
    c.add_argument("--variant", choices=("paper", "reference"), default="paper", help="PWCCA variant")
    c.add_argument("--eps", type=_eps, default=1e-10, help="relative regularisation, >= 0 (see docs/definitions.md)")
    c.add_argument("--alpha", type=_fraction, default=None,
                   help="shape metrics: partial whitening in [0, 1] (0 CCA, 1 Procrustes; default 1)")
    c.add_argument("--ridge", type=_ridge, default=None,
                   help="linear predictivity: 'gcv' (default) or a penalty >= 0 in the data's units")
    c.add_argument("--score", choices=("fit", "gcv"), default=None, help="linear predictivity: R^2 of the fit "
                   "(default) or its GCV estimate on new datapoints")
    c.add_argument("--average", choices=("variance", "uniform"), default=None,
                   help="linear predictivity: variance-weighted (default) or per-neuron mean R^2")
    c.add_argument("--raw", action="store_true", help="procrustes: in the data's units, not normalised")
    c.add_argument("--null", type=_count, default=None, metavar="DRAWS",
                   help="also draw the measure's null baseline: DRAWS simulations of independent data of the "
                        "same n, p, q (docs/measures.md)")
    c.add_argument("--seed", type=int, default=0, help="--null: the random seed (default 0)")
    c.add_argument("--shards", type=_count, default=None, metavar="K",
                   help="error bars: the delete-one-shard jackknife over K shards of the datapoints (by index)")
    c.add_argument("--spectra", choices=("white", "observed"), default="white",
                   help="--null: independent white noise, or each side with its observed covariance")
    c.add_argument("--backend", choices=("auto", "cpu", "cuda"), default="auto")
    c.add_argument("--json", action="store_true", help="print the result as JSON")
    sub.add_parser("demo", parents=[common],
                   help="compare two MLPs trained on scikit-learn's digits, layer by layer")
    return parser


def _run(argv) -> int:
    args = _parser().parse_args(argv)
    if args.cmd == "compare":
        return _compare(args)
    from .demo import run
    run()
    return 0


def main(argv=None) -> int:
    """Run the command line; returns the exit status (see the module docstring)."""
    from ._io import FastccaFileError
    from .backend import BackendUnavailableError
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        return _run(argv)
    except UserError as exc:
        if debug:
            raise
        return _fail(str(exc), exc.status)
    except (ValueError, TypeError, FastccaFileError, BackendUnavailableError, ImportError, MemoryError) as exc:
        # what fastcca raises for input it cannot use: its messages name the problem
        if debug:
            raise
        return _fail(_one_line(exc), EXIT_INPUT)
    except KeyboardInterrupt:
        if debug:
            raise
        return _fail("interrupted", EXIT_INTERRUPTED)
    except Exception:
        if debug:
            raise
        traceback.print_exc()
        return _fail("internal error in fastcca (a bug; the traceback above says where; please report it)",
                     EXIT_BUG)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _fail(message: str, status: int) -> int:
    print("error: " + " ".join(message.split()), file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
