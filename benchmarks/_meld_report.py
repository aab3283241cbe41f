# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""The report of `benchmarks/meld_text.py`: the `meld_text` section of BENCHMARKS.md and the learning-curve
figure, rendered from the results JSON."""

from __future__ import annotations

import collections
import os

import numpy as np
from _meld_settings import LABELS, RECIPE, SETTINGS, TARGET_WEIGHTED_F1, _fmt, choose

# ---------------------------------------------------------------------------------------------- markdown


def _mean_std(values: list[float]) -> str:
    values = [100 * v for v in values if v is not None]
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{np.mean(values):.2f} ± {np.std(values, ddof=1):.2f}"


def _groups(runs: list[dict]) -> dict[str, list[dict]]:
    groups = collections.OrderedDict()
    for r in sorted(runs, key=lambda r: r["seed"]):
        if r.get("status") == "ok":
            groups.setdefault(r["setting"], []).append(r)
    return groups


def _order(groups: dict, chosen: str | None) -> list[str]:
    def key(setting: str):
        name = setting.split(":")[0]
        corpus = groups[setting][0]["corpus"]
        rank = list(SETTINGS).index(name)
        return (corpus != "meld", setting != chosen, rank, setting)

    return sorted(groups, key=key)


def _hparams_cell(hp: dict) -> str:
    if "lr" not in hp:
        return "frozen encoder; BiGRU lr 1e-3"
    parts = [f"enc {_fmt(hp['elr'])} / fus {_fmt(hp['lr'])}", f"bs {hp['bs']}", f"wu {_fmt(hp['warmup'])}"]
    if hp["ctx_past"] or hp["ctx_future"]:
        parts.append(f"ctx {hp['ctx_past']}+{hp['ctx_future']}")
    if hp["speakers"]:
        parts.append("names")
    if hp["pooling"] != "mean":
        parts.append(f"pool {hp['pooling']}")
    if hp["cw"] != "none":
        parts.append("cw inv")
    if hp["alpha"] != RECIPE["alpha"][0]:
        parts.append(f"α {hp['alpha']:g}")
    if hp["rho"] != RECIPE["rho"][0]:
        parts.append(f"ρ {hp['rho']:g}")
    if not hp["mcn"] or hp["context_encoder"] != "dialoguernn":
        parts.append("no MCN context")
    return ", ".join(parts)


def mean_curve(runs: list[dict]) -> tuple[list[float], list[float]]:
    """Dev weighted F1 (%) per epoch, averaged over the seeds that reached that epoch."""
    by_epoch = collections.defaultdict(list)
    for r in runs:
        for point in r.get("dev_curve", []):
            by_epoch[round(point["epoch"], 2)].append(100 * point["weighted_f1"])
    epochs = sorted(by_epoch)
    return epochs, [float(np.mean(by_epoch[e])) for e in epochs]


def plot_curves(results: dict, path: str) -> None:
    """One panel per corpus: dev weighted F1 per epoch, one line per setting (mean over seeds), the class prior."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = _groups(results["runs"])
    chosen = choose(results["runs"])
    corpora = [c for c in ("meld", "small_dyadic") if any(g[0]["corpus"] == c for g in groups.values())]
    if not corpora:
        return
    fig, axes = plt.subplots(len(corpora), 1, figsize=(13, 5.0 * len(corpora)), squeeze=False)
    stats = results["meta"].get("corpora", {})
    cmap = plt.get_cmap("tab20")
    for ax, corpus in zip(axes[:, 0], corpora):
        settings = [s for s in _order(groups, chosen) if groups[s][0]["corpus"] == corpus]
        for i, setting in enumerate(settings):
            epochs, values = mean_curve(groups[setting])
            name = setting.split(":")[0]
            seeds = len(groups[setting])
            label = f"{setting} ({seeds} seed{'s' if seeds > 1 else ''})"
            style = {"color": cmap(i % 20), "linewidth": 1.3, "linestyle": "-"}
            if setting == chosen:
                style.update(color="black", linewidth=2.8)
                label = "chosen: " + label
            elif name == "baseline":
                style.update(color="dimgrey", linewidth=2.0, linestyle="--")
            elif name == "old_recipe":
                style.update(color="firebrick", linewidth=2.0, linestyle=":")
            ax.plot(epochs, values, marker="o", markersize=3, label=label, **style)
        prior = stats.get(corpus, {}).get("dev_prior_weighted_f1")
        if prior is not None:
            ax.axhline(
                100 * prior, color="grey", linewidth=1, linestyle="-.", label="class prior (majority class)"
            )
        ax.set_title(f"{corpus}: dev weighted F1 after each epoch (mean over seeds)")
        ax.set_xlabel("epoch")
        ax.set_ylabel("dev weighted F1 (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def render_markdown(results: dict, source: str, png: str) -> str:
    runs = results["runs"]
    meta = results["meta"]
    groups = _groups(runs)
    chosen = choose(runs)
    machine = meta.get("machine", {})
    stats = meta.get("corpora", {})
    lines = [
        f"Generated by `benchmarks/meld_text.py --write_markdown` from `{source}` (runs finished "
        f"{meta.get('last_update', '?')}; devices: {', '.join(sorted({r.get('device', '?') for r in runs if r.get('status') == 'ok'})) or '?'}; "
        f"{machine.get('cpu', '?')}, {machine.get('cpu_cores', '?')} cores, torch {machine.get('torch', '?')}, "
        f"transformers {machine.get('transformers', '?')}).",
        "",
    ]
    for corpus, s in stats.items():
        lines.append(
            f"- `{corpus}`: train / dev / test {s['train']['dialogues']} / {s['validation']['dialogues']} / "
            f"{s['test']['dialogues']} dialogues, {s['train']['utterances']} / {s['validation']['utterances']} / "
            f"{s['test']['utterances']} utterances; dev weighted F1 of the class prior (always "
            f"`{s['majority_class']}`): {100 * s['dev_prior_weighted_f1']:.2f}."
        )
    lines += [
        "",
        "Checkpoint selected on dev weighted F1 (one evaluation per epoch); mean ± sample std over seeds (one value: "
        "a single seed). F1 in %. `dev@1`: dev weighted F1 after the first epoch. The chosen setting (bold) is the "
        "`recipe*` setting with the best dev weighted F1 on meld, over the seed(s) every candidate ran (the exploration seed); test is never used to choose.",
        "",
        "| setting | corpus | hyper-parameters | seeds | epochs | dev@1 | best dev wF1 | test wF1 | test macro F1 | "
        "test wF1 − baseline | train time / run |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    baseline = {
        c: np.mean([r["test_weighted_f1"] for r in rs])
        for c in ("meld", "small_dyadic")
        for s, rs in groups.items()
        if s.split(":")[0] == "baseline" and rs[0]["corpus"] == c
    }
    for setting in _order(groups, chosen):
        rs = groups[setting]
        corpus = rs[0]["corpus"]
        wf1 = [r["test_weighted_f1"] for r in rs]
        first = [r["dev_curve"][0]["weighted_f1"] if r.get("dev_curve") else None for r in rs]
        delta = f"{100 * (np.mean(wf1) - baseline[corpus]):+.2f}" if corpus in baseline else "–"
        seconds = [r.get("train_runtime_s") for r in rs if r.get("train_runtime_s")]
        name = f"**{setting}** (chosen)" if setting == chosen else setting
        lines.append(
            f"| {name} | {corpus} | {_hparams_cell(rs[0]['hparams'])} | {', '.join(str(r['seed']) for r in rs)} | "
            f"{rs[0]['epochs']} | {_mean_std(first)} | {_mean_std([r['dev_weighted_f1_best'] for r in rs])} | "
            f"{_mean_std(wf1)} | {_mean_std([r['test_macro_f1'] for r in rs])} | {delta} | "
            f"{f'{np.mean(seconds) / 60:.1f} min' if seconds else '–'} |"
        )
    lines.append("")
    lines.append("What each setting name means (overrides after `:` change the recipe):")
    lines.append("")
    for name, (about, _) in SETTINGS.items():
        lines.append(f"- `{name}`: {about}.")
    lines.append(
        "- recipe keys: "
        + "; ".join(
            f"`{k}` {about} (default {_fmt(v)})" for k, (v, about) in RECIPE.items() if k not in ("corpus",)
        )
        + "."
    )
    if chosen:
        chosen_runs = groups[chosen]
        mean = 100 * np.mean([r["test_weighted_f1"] for r in chosen_runs])
        met = mean >= TARGET_WEIGHTED_F1 and len(chosen_runs) >= 3
        lines += [
            "",
            f"Issue target: meld test weighted F1 ≥ {TARGET_WEIGHTED_F1:.1f} as the mean of 3 seeds of the chosen "
            f"setting. Reached: {mean:.2f} over {len(chosen_runs)} seed(s), {'met' if met else 'not met'} "
            f"({mean - TARGET_WEIGHTED_F1:+.2f} points).",
        ]
    failed = [r for r in runs if r.get("status") != "ok"]
    if failed:
        lines += [
            "",
            "Failed runs (kept in the JSON with their log tail): "
            + ", ".join(f"`{r['setting']}` seed {r['seed']}" for r in failed)
            + ".",
        ]
    if results.get("superseded"):
        lines += [
            "",
            f"{len(results['superseded'])} runs of the issue-7 version of this script (explicit initializer_range "
            "0.06, one learning rate) are kept in the JSON under `superseded` and not shown.",
        ]
    lines += ["", f"![dev weighted F1 per epoch, one line per setting]({png})", ""]
    lines.append("Per-class test F1 (%), mean over seeds:")
    lines.append("")
    lines.append("| setting | corpus | " + " | ".join(LABELS) + " |")
    lines.append("|---|---|" + "---|" * len(LABELS))
    for setting in _order(groups, chosen):
        rs = groups[setting]
        cells = [f"{100 * np.mean([r['test_per_class_f1'].get(n, 0.0) for r in rs]):.1f}" for n in LABELS]
        lines.append(f"| {setting} | {rs[0]['corpus']} | " + " | ".join(cells) + " |")
    commands = meta.get("commands", [])
    if commands:
        lines += ["", "Commands that produced these runs:", "", "```bash", *commands, "```"]
    example = next((r["command"] for r in runs if r["setting"] == chosen and r.get("command")), None)
    if example:
        lines += [
            "",
            "Each MCN-CL run is one `examples/train.py` call; the chosen setting's, for one seed:",
            "",
        ]
        lines += ["```bash", example, "```"]
    return "\n".join(lines)
