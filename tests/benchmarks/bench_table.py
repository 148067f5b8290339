"""The results tables the benchmarks print: wall-clock seconds of a module and of the tool it
replaces, cold and with nothing to change, and how many times faster the module is; and runs
beside a baseline run of the same benchmark, with how many times longer each took."""

PHASES = ("cold", "no-op")


def print_table(title, times, module, baseline, *, goal, labels=None):
    """times maps (tool, phase) to seconds; labels optionally renames tools in the first column."""
    labels = labels or {}
    speed_up = f"speed-up (goal >= {goal}x)"
    rows = [labels.get(tool, tool) for tool in (module, baseline)]
    width = max(len(label) for label in [*rows, speed_up]) + 2
    print(title)
    print(f"{'':{width}}" + "".join(f"{phase:>10}" for phase in PHASES))
    for tool, label in zip((module, baseline), rows, strict=True):
        print(f"{label:{width}}" + "".join(f"{times[tool, phase]:>9.1f}s" for phase in PHASES))
    ratios = [times[baseline, phase] / times[module, phase] for phase in PHASES]
    print(f"{speed_up:{width}}" + "".join(f"{ratio:>9.1f}x" for ratio in ratios))


def print_ratios(title, rows, baseline):
    """rows are (label, seconds, baseline seconds): each run's time, the time of its baseline run
    in the same benchmark, and how many times longer the run took."""
    width = max(len(label) for label, _, _ in rows) + 2
    print(title)
    print(f"{'':{width}}{'run':>10}{baseline:>14}{'ratio':>10}")
    for label, seconds, base in rows:
        print(f"{label:{width}}{seconds:>9.1f}s{base:>13.1f}s{seconds / base:>9.1f}x")
