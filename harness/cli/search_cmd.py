"""`harness search METHOD`: random search, REA or WeakNAS simulated on the ground truth, many seeded runs.

Searches select by validation accuracy and are judged by the test accuracy of their pick, as NB201 does. The
analysis stack (pandas, scikit-learn) is imported when the command runs, not when any command starts."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from harness.analysis.search import PROTOCOL, PROTOCOLS
from harness.cli.arguments import CACHE_HELP, origin, positive_float, positive_int, seed_int
from harness.errors import HarnessError

METHOD_NAMES = {"random": "random search", "rea": "REA", "weaknas": "WeakNAS"}


def register(groups) -> None:
    search = groups.add_parser(
        "search", help="simulate random search, REA or WeakNAS on the ground truth (no training)",
        description="Run seeded searches that query the ground truth's validation accuracy and report the test "
                    "accuracy of the best cell found so far (NB201's protocol: CIFAR-10 searches "
                    "cifar10-valid/x-valid and reports cifar10/ori-test; CIFAR-100 and ImageNet16-120 search "
                    "x-valid and report x-test). Random search and REA default to NB201's own scripts (--protocol "
                    "nb201: the 12-epoch validation accuracy of a random seed per query, 12,000 simulated seconds "
                    "from the recorded training times, or 100 evaluations where the ground truth records none, "
                    "judged by the pick's 200-epoch test accuracy); --protocol distinct and WeakNAS search the "
                    "200-epoch validation accuracy with a budget of distinct cells. "
                    "Writes history.parquet, summary.csv, summary.md and provenance.json into --out.")
    search.add_argument("method", choices=list(METHOD_NAMES), metavar="METHOD", help="random, rea or weaknas")
    search.add_argument("--dataset", default="cifar10", choices=list(PROTOCOL), help="default cifar10")
    search.add_argument("--protocol", choices=PROTOCOLS,
                        help="nb201 (default for random and rea: NB201's scripts) or distinct (default for weaknas)")
    search.add_argument("--budget", type=positive_float,
                        help="per run: distinct cells (distinct; default 1000), or seconds where the ground truth "
                             "records times and else evaluations (nb201; default 12000 s or 100 evaluations)")
    search.add_argument("--runs", type=positive_int, default=100, help="seeded runs (default 100)")
    search.add_argument("--seed", type=seed_int, default=0, help="seed of the first run; run i uses seed + i (default 0)")
    search.add_argument("--predictor", help="weaknas only: mlp (default, the released 4 x 1000 MLP: about 30 minutes a "
                                            "run of 1,000 queries on one core), mlp-small, random_forest or gbdt")
    search.add_argument("--cache", help=CACHE_HELP)
    search.add_argument("--out", help="output directory (default reports/search/METHOD[-PREDICTOR]-DATASET)")
    search.add_argument("--quiet", action="store_true", help="no progress bar")
    search.set_defaults(run=_search)


def _search(args: argparse.Namespace) -> int:
    import numpy as np

    from harness.analysis.nb201_protocol import protocol_inputs
    from harness.analysis.search import final_summary, optimum, queries_to_optimum, run_searches, summarize_runs
    from harness.atomic import atomic_write
    from harness.oracle import Oracle
    from harness.provenance import code_version

    if args.predictor is not None and args.method != "weaknas":
        raise HarnessError(f"--predictor applies to weaknas only, not to {args.method}; drop it")
    usual = "distinct" if args.method == "weaknas" else "nb201"  # the protocol of the method's released code
    protocol = args.protocol or usual
    settings = {"predictor": args.predictor or "mlp"} if args.method == "weaknas" else {}
    tags = [*settings.values(), *([protocol] if protocol != usual else [])]
    label = "-".join([args.method, *tags, args.dataset])
    out = Path(args.out or Path("reports") / "search" / label)

    oracle = Oracle(args.cache)
    (search_on, search_split), (report_on, report_split) = PROTOCOL[args.dataset]
    test = oracle.accuracy(dataset=report_on, split=report_split, hp=200)
    target = {"protocol": protocol, "searched": f"{search_on}/{search_split}@200",
              "reported": f"{report_on}/{report_split}@200"}
    if protocol == "nb201":
        valid, cost, described = protocol_inputs(oracle, args.dataset)
        target.update(described)
        budget, unit = _nb201_budget(args.budget, cost)
        candidates = np.flatnonzero(np.isfinite(valid).any(axis=1) & np.isfinite(test))
        means = np.nanmean(valid, axis=1)
    else:
        valid = means = oracle.accuracy(dataset=search_on, split=search_split, hp=200)
        cost, unit = None, "distinct cells queried"
        budget = _whole(args.budget if args.budget is not None else 1000, "distinct cells")
        candidates = np.flatnonzero(np.isfinite(valid) & np.isfinite(test))
    cells = oracle.cells()
    seeds = list(range(args.seed, args.seed + args.runs))

    start = time.perf_counter()
    history = run_searches(args.method, valid, test, cells, budget, seeds, candidates=candidates,
                           progress=not args.quiet, protocol=protocol, cost=cost, **settings)
    seconds = time.perf_counter() - start
    found = final_summary(history)
    at_queries = summarize_runs(history, at=(100, 200, 500, int(history["query"].max())))
    best = optimum(means, candidates)
    reach = queries_to_optimum(history, best)

    history.insert(history.columns.get_loc("index") + 1, "arch", np.asarray(oracle.archs(history["index"].to_numpy())))
    summary = _summary_frame(at_queries, found, reach)
    optimum_info = {"index": [int(i) for i in best], "arch": oracle.archs(best), "valid": float(means[best[0]]),
                    "test": [float(test[i]) for i in best], "best_test_in_space": float(np.nanmax(test[candidates]))}
    markdown = _markdown(args, target, budget, unit, found, at_queries, reach, optimum_info, len(candidates),
                         origin(args))
    provenance = {
        **origin(args), "method": args.method, "dataset": args.dataset, **target,
        "budget": budget, "runs": args.runs, "seeds": seeds, "settings": history.attrs["settings"],
        "budget_counts": unit,
        "interval": "95% percentile bootstrap of the mean over runs (2000 resamples, seed 0)",
        "candidates": len(candidates), "optimum": optimum_info, "queries_to_optimum": reach,
        "seconds": round(seconds, 3), "ground_truth": oracle.provenance,
        "harness_version": code_version()}

    atomic_write(out / "history.parquet", lambda tmp: history.to_parquet(tmp, index=False))
    atomic_write(out / "summary.csv", lambda tmp: summary.to_csv(tmp, index=False))
    atomic_write(out / "summary.md", lambda tmp: Path(tmp).write_text(markdown))
    atomic_write(out / "provenance.json", lambda tmp: Path(tmp).write_text(json.dumps(provenance, indent=2) + "\n"))
    print(markdown, end="")
    print(f"\nwrote {out}/ (history.parquet, summary.csv, summary.md, provenance.json) in {seconds:.1f} s")
    return 0


def _nb201_budget(budget, cost) -> tuple[float | int, str]:
    """--budget under NB201's protocol: seconds where times are recorded, else a whole number of evaluations."""
    from harness.analysis.nb201_protocol import default_budget

    default, unit = default_budget(cost)
    if budget is None:
        return default, unit
    return (budget, unit) if cost is not None else (_whole(budget, "evaluations (this ground truth records no "
                                                                   "times)"), unit)


def _whole(value: float, what: str) -> int:
    if float(value) != int(value):
        raise HarnessError(f"--budget {value} must be a whole number of {what}")
    return int(value)


def _summary_frame(at_queries, found: dict, reach: dict):
    """One tidy table: the pick's test accuracy when the budget ran out, the best test accuracy at each query count,
    then how the runs reached the optimum."""
    import pandas as pd

    rows = [{"statistic": "pick_test", "queries": found["queries"], "value": found["mean"], "std": found["std"],
             "ci_low": found["ci_low"], "ci_high": found["ci_high"], "runs": found["runs"]}]
    rows += [{"statistic": "best_test", "queries": r.queries, "value": r.mean, "std": r.std, "ci_low": r.ci_low,
              "ci_high": r.ci_high, "runs": r.runs} for r in at_queries.itertuples()]
    rows.append({"statistic": "optimum_reached_share", "queries": reach["budget"], "value": reach["share"],
                 "runs": reach["runs"]})
    rows += [{"statistic": f"queries_to_optimum_{q}", "queries": reach["budget"], "value": reach[q],
              "runs": reach["runs"]} for q in ("q25", "median", "q75")]
    return pd.DataFrame(rows, columns=["statistic", "queries", "value", "std", "ci_low", "ci_high", "runs"])


def _markdown(args, target: dict, budget, unit: str, found: dict, at_queries, reach: dict, optimum_info: dict,
              n_candidates: int, written_by: dict) -> str:
    name = METHOD_NAMES[args.method] + (f" ({args.predictor or 'mlp'})" if args.method == "weaknas" else "")

    def quantile(q):
        return str(reach[q]) if reach[q] is not None else f"> {reach['budget']}"

    how = (f"NB201's scripts: {target['searched']}, {target['seed_per_query']} per query, each costing "
           f"{target['query_cost']}" if target["protocol"] == "nb201" else f"searched on {target['searched']}")
    lines = [f"# {name} on {args.dataset}: {args.runs} runs of {budget:g} {unit}", "",
             f"{how[0].upper()}{how[1:]}; reported {target['reported']}; seeds {args.seed}.."
             f"{args.seed + args.runs - 1}; {n_candidates} candidate cells.", "",
             f"The pick when the budget ran out (after {found['queries']:.1f} queries on average): test accuracy "
             f"{found['mean']:.2f} ± {found['std']:.2f} (mean ± std over runs), 95% interval of the mean "
             f"[{found['ci_low']:.2f}, {found['ci_high']:.2f}].", "",
             "| queries | best test accuracy, mean ± std | 95% interval of the mean | runs |",
             "| --- | --- | --- | --- |"]
    lines += [f"| {r.queries} | {r.mean:.2f} ± {r.std:.2f} | [{r.ci_low:.2f}, {r.ci_high:.2f}] | {r.runs} |"
              for r in at_queries.itertuples()]
    tests = ", ".join(f"{t:.2f}" for t in optimum_info["test"])
    lines += ["", "Intervals: percentile bootstrap of the mean over runs.", "",
              f"Optimum by validation: index {', '.join(map(str, optimum_info['index']))} "
              f"(valid {optimum_info['valid']:.2f}, test {tests}; best test in the space "
              f"{optimum_info['best_test_in_space']:.2f}).",
              f"Reached within {reach['budget']} queries by {reach['reached']} of {reach['runs']} runs "
              f"({100 * reach['share']:.0f}%); queries needed: median {quantile('median')} "
              f"(25%: {quantile('q25')}, 75%: {quantile('q75')}; a run that missed counts as more than the budget).",
              "", f"Written by `{written_by['command']}` (code {written_by['code_hash']}).", ""]
    return "\n".join(lines)
