"""The results as a plain-text table: each figure, its limit, the ratio, the target."""

RULES_TARGET = 100_000  # evaluations per second, one core
IMPORT_RATIO_TARGET = 100  # times COPY FROM of the same file
EXPORT_RATIO_TARGET = 2.0  # times COPY of the same columns
RSS_TARGET = 200 * 1024 * 1024
IMPORT_RSS_TARGET = 300 * 1024 * 1024  # checking a 100,000-row file
PAGE_MEDIAN_TARGET = 0.100  # seconds
PAGE_THROUGHPUT_TARGET = 0.20  # of /healthz's requests per second
MB = 1024 * 1024


def _seconds(value: float) -> str:
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"


def _noisy(figure: dict) -> str:
    return f" (noisy, cv {figure['cv']:.0%})" if figure["noisy"] else ""


def _verdict(met: bool) -> str:
    return "ok" if met else "MISS"


def _rows(header: tuple, rows: list[tuple]) -> list[str]:
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]

    def line(cells):
        return "  ".join(str(cell).ljust(width) for cell, width in zip(cells, widths, strict=True))

    return [line(header).rstrip(), line("-" * width for width in widths)] + [
        line(row).rstrip() for row in rows
    ]


def _header_lines(results: dict) -> list[str]:
    machine = results["machine"]
    lines = [
        f"TrialScreen bench, {results['date']}: N = {results['n']:,} referrals, "
        f"median of {results['repeat']} repetitions; {machine['cpus']} CPUs, "
        f"Python {machine['python']}, PostgreSQL {machine['postgresql']}",
    ]
    for seeding in results["seeding"].values():
        if seeding["reused"]:
            lines.append(f"  {seeding['database']}: reused ({seeding['referrals']:,} referrals)")
        else:
            lines.append(
                f"  {seeding['database']}: seeded {seeding['referrals']:,} referrals "
                f"({seeding['decisions']:,} MDT decisions, {seeding['enrolled']} enrolled, "
                f"{seeding['withdrawn']:,} withdrawn) in {seeding['seconds']:.0f} s"
            )
    return lines


def _import_note(imported: dict, repeat: int) -> str:
    notes = []
    if imported["rows"] != 10_000:
        notes.append(f"scaled from a {imported['rows']:,}-row file")
    made = len(imported["command_seconds"]["repetitions"])
    if made < repeat:
        notes.append(f"{made} repetition(s): time box")
    return f" ({'; '.join(notes)})" if notes else ""


def _figure_rows(results: dict) -> list[tuple]:
    rules, imported, export = results["rules"], results["import"], results["export"]
    rate = rules["per_second"]
    copy_in = imported["copy_per_10000_rows_seconds"]
    rows = [
        (
            "rules.evaluate, one core (CPU time)",
            f"{rate['median']:,.0f}/s{_noisy(rate)}",
            "-",
            "-",
            f">= {RULES_TARGET:,}/s",
            _verdict(rate["median"] >= RULES_TARGET),
        ),
        (
            "import_referrals, per 10,000 rows" + _import_note(imported, results["repeat"]),
            _seconds(imported["per_10000_rows_seconds"]) + _noisy(imported["command_seconds"]),
            "COPY " + _seconds(imported["copy_per_10000_rows_seconds"]),
            f"{imported['ratio']:.0f}x",
            f"<= {IMPORT_RATIO_TARGET}x",
            _verdict(imported["ratio"] <= IMPORT_RATIO_TARGET),
        ),
        (
            "  of which the database storing the rows (server side)",
            _seconds(imported["storing_per_10000_rows_seconds"]),
            "COPY " + _seconds(imported["copy_per_10000_rows_seconds"]),
            f"{imported['storing_per_10000_rows_seconds'] / copy_in:.0f}x",
            "-",
            "-",
        ),
    ]
    memory = results.get("import_memory")
    if memory:
        rows.append(
            (
                f"  peak RSS checking a {memory['rows']:,}-row file (--dry-run)",
                f"{memory['peak_rss_bytes'] / MB:.0f} MB",
                "-",
                "-",
                f"< {IMPORT_RSS_TARGET // MB} MB",
                _verdict(memory["peak_rss_bytes"] < IMPORT_RSS_TARGET),
            )
        )
    copy = "COPY " + _seconds(export["copy_seconds"]["median"]) + _noisy(export["copy_seconds"])
    if "http_seconds" in export:
        rows += [
            (
                f"screening-log CSV over HTTP, {export['rows']:,} rows",
                _seconds(export["http_seconds"]["median"]) + _noisy(export["http_seconds"]),
                copy,
                f"{export['http_ratio']:.2f}x",
                f"<= {EXPORT_RATIO_TARGET:g}x",
                _verdict(export["http_ratio"] <= EXPORT_RATIO_TARGET),
            ),
            (
                "  peak RSS of the gunicorn worker",
                f"{export['peak_rss_bytes'] / MB:.0f} MB",
                "-",
                "-",
                f"< {RSS_TARGET // MB} MB",
                _verdict(export["peak_rss_bytes"] < RSS_TARGET),
            ),
        ]
    else:
        rows.append(
            (
                "screening-log CSV over HTTP",
                "no view yet",
                copy,
                "-",
                f"<= {EXPORT_RATIO_TARGET:g}x",
                "missing",
            )
        )
    rows.append(
        (
            "  same rows, row builder in-process (1 run)",
            _seconds(export["builder_seconds"]),
            copy,
            f"{export['builder_ratio']:.2f}x",
            "-",
            "-",
        )
    )
    counting = results["consort_counting"]
    rows.append(
        (
            "CONSORT counts, nothing kept (first view after a write)",
            _seconds(counting["median"]) + _noisy(counting),
            "-",
            "-",
            "-",
            "-",
        )
    )
    return rows


def _page_rows(results: dict) -> list[tuple]:
    small, large = results["queries"]["small"], results["queries"]["bench"]
    rows = []
    names = [*results["pages"], *(name for name in large if name not in results["pages"])]
    for name in names:
        timed = results["pages"].get(name)
        counts = f"{small[name]['queries']} / {large[name]['queries']}"
        same_queries = small[name]["queries"] == large[name]["queries"]
        if large[name]["status"] is None:
            rows.append((name, "no view yet", "", "", "", "missing", "missing"))
            continue
        if timed is None:  # the export: timed above, counted here
            rows.append((name, "see above", "", "", counts, _verdict(same_queries), "-"))
            continue
        statuses = timed["statuses"]
        median = timed["median_seconds"]
        fast = median["median"] < PAGE_MEDIAN_TARGET or name == "healthz"
        verdict = _verdict(fast and same_queries and statuses == [200])
        if statuses != [200]:
            verdict += f" (HTTP {', '.join(map(str, statuses))})"
        if timed["time_boxed"]:
            requests = ", ".join(map(str, timed["requests"]))
            verdict += f" (time box: {requests} requests)"
        share = timed["throughput_of_healthz"]
        rows.append(
            (
                timed["path"] if name == "healthz" else name,
                _seconds(median["median"]) + _noisy(median),
                _seconds(timed["p95_seconds"]["median"]),
                f"{timed['requests_per_second']['median']:.0f}/s ({share:.2f})",
                counts,
                verdict,
                # /healthz is the ceiling the others are measured against.
                "-" if name == "healthz" else _verdict(share >= PAGE_THROUGHPUT_TARGET),
            )
        )
    return rows


def _side_by_side_rows(results: dict) -> list[tuple]:
    """The referral list against Django's admin changelist of the same table, in-process."""
    compared = results.get("list_against_admin")
    if compared is None:
        return []
    listed, changelist = compared["list_seconds"], compared["admin_seconds"]
    forgotten = compared["nothing_kept_seconds"]
    admin_limit = "admin changelist " + _seconds(changelist["median"]) + _noisy(changelist)
    return [
        (
            f"referral list in-process, {compared['rows_per_page']} rows, "
            f"{compared['role'].replace('_', ' ')}",
            _seconds(listed["median"]) + _noisy(listed),
            admin_limit,
            f"{compared['ratio']:.2f}x",
            "< 1x (faster)",
            _verdict(compared["ratio"] < 1),
        ),
        (
            "  same, nothing kept (first view after a write)",
            _seconds(forgotten["median"]) + _noisy(forgotten),
            admin_limit,
            f"{compared['nothing_kept_ratio']:.2f}x",
            "< 1x (faster)",
            _verdict(compared["nothing_kept_ratio"] < 1),
        ),
    ]


def table(results: dict) -> str:
    lines = _header_lines(results)
    lines.append("")
    lines += _rows(
        ("figure", "measured", "limit", "ratio", "target", "verdict"),
        _figure_rows(results) + _side_by_side_rows(results),
    )
    lines.append("")
    lines += _rows(
        (
            "page (HTTP, gunicorn --workers 2)",
            "median",
            "p95",
            "throughput (of /healthz)",
            f"queries at 1,000 / {results['n']:,}",
            f"verdict (median < {PAGE_MEDIAN_TARGET * 1000:.0f} ms, same queries)",
            f"verdict (>= {PAGE_THROUGHPUT_TARGET:.0%} of /healthz)",
        ),
        _page_rows(results),
    )
    lines.append("")
    lines.append(f"wall time {results['wall_seconds'] / 60:.1f} min")
    return "\n".join(lines)
