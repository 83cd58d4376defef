"""Issue 28, cases 3 and 5: tapes are never overwritten silently, and their times and values
are bounded before anything allocates or divides.

An existing tape folder is refused by ``tape import --out`` and ``tape sample`` (its bytes
unchanged) unless ``--force``, which names what it replaces and leaves one consistent tape.
A far-out timestamp (``ts_ns = 2**62``), a row in another time unit, a price of 1e300 or
quantities that are not multiples of the lot are one line naming the file and the row, in
``tape check``, ``calibrate``, ``soak --market-data`` and the importers, with numpy's warnings
turned into errors (none may fire).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from soakkit.core.errors import ExitCode
from soakkit.sim.market import simulate_market
from soakkit.sim.replay import record
from soakkit.sim.tape_bounds import MAX_PRICE, MAX_SPAN_DAYS
from soakkit.sim.tapefile import write_tape

from .conftest import CliResult, assert_one_line_error

NOW = "2026-11-24T12:00:00Z"
ORIGIN = 1_723_161_600 * 10**9  # 2024-08-09T00:00:00Z


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _strict(cli: Callable[..., CliResult], *argv: str) -> CliResult:
    """Run in-process with every warning an error: a bad tape never reaches numpy."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return cli(*argv)


def _csv_tape(folder: Path, minutes: int = 2) -> Path:
    market = simulate_market("mixed", minutes, np.random.default_rng(5))
    parquet = write_tape(folder.parent / f"{folder.name}-parquet", record(market, ORIGIN))
    folder.mkdir(parents=True)
    for name in ("trades", "quotes"):
        pl.read_parquet(parquet / f"{name}.parquet").write_csv(folder / f"{name}.csv")
    return folder


def _tardis(folder: Path, quote_times_us: list[int]) -> tuple[Path, Path]:
    """Tardis trades and quotes CSVs: one quote per time, a trade 5 µs after each good one."""
    folder.mkdir(parents=True, exist_ok=True)
    good = [t for t in quote_times_us if t > 10**15]
    trades = folder / "trades.csv"
    trades.write_text("exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"
                      + "".join(f"x,SYN,{t + 5},{t + 9},{i},buy,100.6,0.0145\n"
                                for i, t in enumerate(good)))
    quotes = folder / "quotes.csv"
    quotes.write_text("exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,"
                      "bid_price,bid_amount\n"
                      + "".join(f"x,SYN,{t},{t + 3},1.5,100.6,100.5,2.5\n"
                                for t in quote_times_us))
    return trades, quotes


# ------------------------------------------------------------------ 3. never overwritten
def test_tape_sample_refuses_an_existing_tape_and_force_replaces_it(tmp_path: Path,
                                                                     cli) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "tape"
    first = cli("tape", "sample", str(folder), "--minutes", "2")
    assert first.code == 0, first.err
    before = _snapshot(folder)
    again = cli("tape", "sample", str(folder), "--minutes", "1", "--seed", "3")
    assert again.code == ExitCode.USAGE
    assert_one_line_error(again, f"{folder}: already holds a tape (quotes.parquet, tape.json, "
                                 "trades.parquet); --force replaces it")
    assert _snapshot(folder) == before
    forced = cli("tape", "sample", str(folder), "--minutes", "1", "--seed", "3", "--force")
    assert forced.code == 0, forced.err
    assert "replaced quotes.parquet, tape.json, trades.parquet" in forced.out
    assert _snapshot(folder) != before and cli("tape", "check", str(folder)).code == 0


def test_tape_import_refuses_an_existing_tape_and_force_leaves_one_tape(tmp_path: Path,
                                                                         cli) -> None:  # type: ignore[no-untyped-def]
    out = _csv_tape(tmp_path / "out")
    before = _snapshot(out)
    trades, quotes = _tardis(tmp_path / "src", [ORIGIN // 1000 + i * 1000 for i in range(5)])
    argv = ["tape", "import", "--from", "tardis", "--trades", str(trades), "--quotes",
            str(quotes), "--out", str(out)]
    refused = cli(*argv)
    assert refused.code == ExitCode.USAGE
    assert_one_line_error(refused, f"{out}: already holds a tape (quotes.csv, trades.csv); "
                                   "--force replaces it")
    assert _snapshot(out) == before
    forced = cli(*argv, "--force")
    assert forced.code == 0, forced.err
    assert "replaced quotes.csv, trades.csv" in forced.out
    assert sorted(p.name for p in out.iterdir()) == ["quotes.parquet", "tape.json",
                                                     "trades.parquet"]
    assert cli("tape", "check", str(out)).code == 0


@pytest.mark.slow
def test_calibrate_refuses_to_replace_a_market_profile(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    tape = tmp_path / "tape"
    assert cli("tape", "sample", str(tape), "--minutes", "3").code == 0
    art = tmp_path / "art"
    argv = ["calibrate", str(tape), "--name", "mine", "--artifacts", str(art)]
    assert cli(*argv).code == 0
    profile = art / "markets" / "mine.json"
    before = profile.read_bytes()
    profile.write_bytes(before.replace(b'"name"', b'"name" ', 1))  # the user edited it
    edited = profile.read_bytes()
    again = cli(*argv)
    assert again.code == ExitCode.USAGE
    assert_one_line_error(again, f"{profile}: a market profile is already there; --force "
                                 "replaces it")
    assert profile.read_bytes() == edited
    forced = cli(*argv, "--force")
    assert forced.code == 0 and f"replaced {profile}" in forced.out
    assert profile.read_bytes() == before


# ------------------------------------------------------------------ 5. times and values
def _spoil(folder: Path, table: str, row: int, **values: object) -> None:
    path = folder / f"{table}.csv"
    frame = pl.read_csv(path)
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == row).then(pl.lit(v)).otherwise(pl.col(c)).alias(c)
        for c, v in values.items())
    frame.write_csv(path)


@pytest.mark.parametrize(("table", "row", "values", "message"), [
    ("trades", -1, {"ts_ns": 2**62}, "ts_ns 4611686018427387904 (2116-02-20T23:53:38Z) is "
                                     "33,432 days from the file's other rows"),
    ("quotes", 0, {"ts_ns": -5}, "quotes.csv:2: ts_ns -5 is before 1970-01-01"),
    ("trades", 3, {"price": 1e300}, f"trades.csv:5: price 1e+300 is more than {MAX_PRICE:g}"),
    ("quotes", 2, {"bid_qty": 1e300}, "quotes.csv:4: bid_qty 1e+300 is more than 1e+15"),
])
def test_far_times_and_huge_values_are_one_line(tmp_path: Path, cli, table: str, row: int,  # type: ignore[no-untyped-def]
                                                values: dict[str, object],
                                                message: str) -> None:
    folder = _csv_tape(tmp_path / "tape")
    height = pl.read_csv(folder / f"{table}.csv").height
    _spoil(folder, table, row % height, **values)
    for argv in (["tape", "check", str(folder)],
                 ["calibrate", str(folder), "--name", "x", "--artifacts", str(tmp_path / "a")],
                 ["soak", "--market-data", str(folder), "--iterations", "1", "--sim-minutes",
                  "1", "--artifacts", str(tmp_path / "a"), "--now", NOW]):
        result = _strict(cli, *argv)
        assert result.code == ExitCode.USAGE, (argv, result)
        assert_one_line_error(result, message)
        assert len(result.err.strip().splitlines()) == 1, result.err
    assert not (tmp_path / "a" / "markets").exists() and not (tmp_path / "a" / "runs").exists()


def test_a_tape_longer_than_the_span_bound_is_refused(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    folder = _csv_tape(tmp_path / "tape")
    quotes = pl.read_csv(folder / "quotes.csv")
    late = ORIGIN + (MAX_SPAN_DAYS + 1) * 86_400 * 10**9
    quotes = quotes.with_columns(pl.lit(late).alias("ts_ns"))  # the whole file, 8 days later
    quotes.write_csv(folder / "quotes.csv")
    result = _strict(cli, "tape", "check", str(folder))
    assert result.code == ExitCode.USAGE
    assert_one_line_error(result, f"{folder}: the tape spans 8.0 days (2024-08-09T00:00:00Z to "
                                  "2024-08-17T00:00:00Z); at most 7 days")


def test_quantities_off_the_lot_are_refused(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    trades, quotes = _tardis(tmp_path / "src", [ORIGIN // 1000 + i * 1000 for i in range(5)])
    result = _strict(cli, "tape", "import", "--from", "tardis", "--trades", str(trades),
                     "--quotes", str(quotes), "--out", str(tmp_path / "out"), "--lot", "1")
    assert result.code == ExitCode.USAGE
    assert_one_line_error(result, "qty 0.0145 is not a multiple of the lot 1")
    assert not (tmp_path / "out").exists()
    folder = _csv_tape(tmp_path / "tape")
    (folder / "tape.json").write_text('{"tick": 5.0, "lot": 1.0}')
    check = _strict(cli, "tape", "check", str(folder))
    assert check.code == ExitCode.USAGE
    assert_one_line_error(check, "trades.csv:2: qty", "is not a multiple of the lot 1")


def test_tardis_rows_in_another_time_unit_are_named(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    times = [ORIGIN // 1000 + i * 1000 for i in range(6)]
    times[3] //= 1000  # a row in ms among µs rows: 54 years earlier
    trades, quotes = _tardis(tmp_path / "src", sorted(times))
    result = _strict(cli, "tape", "import", "--from", "tardis", "--trades", str(trades),
                     "--quotes", str(quotes), "--out", str(tmp_path / "out"))
    assert result.code == ExitCode.USAGE
    assert_one_line_error(result, "quotes.csv:2: timestamp 1723161600003 (1970-01-20T22:39:21Z) "
                                  "is 19,924 days",
                          "from the file's other rows (2024-08-09",
                          "Tardis times are µs: is this row in another unit?")
    assert not (tmp_path / "out").exists()


def test_binance_far_and_overflowing_times_are_named(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    agg = tmp_path / "ETHUSDT-aggTrades-2024-08-09.csv"
    rows = ["1,100.5,0.004,1,1,1723161600012,false", "2,100.6,0.150,2,4,1723161600013,false",
            "3,100.5,0.020,5,5,9000000000000,true"]
    agg.write_text("agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,"
                   "is_buyer_maker\n" + "\n".join(rows) + "\n")
    ticker = tmp_path / "ETHUSDT-bookTicker-2024-08-09.csv"
    ticker.write_text("update_id,best_bid_price,best_bid_qty,best_ask_price,best_ask_qty,"
                      "transaction_time,event_time\n"
                      "1,100.5,5.870,100.6,3.112,1723161600009,1723161600010\n")
    argv = ["tape", "import", "--from", "binance", "--trades", str(agg), "--quotes",
            str(ticker), "--out", str(tmp_path / "out")]
    far = _strict(cli, *argv)
    assert far.code == ExitCode.USAGE
    assert_one_line_error(far, f"{agg}:4: transact_time 9000000000000 (2255-03-14",
                          "days from the file's other rows", "Binance times are ms")
    agg.write_text(agg.read_text().replace("9000000000000", "99999999999999"))
    overflow = _strict(cli, *argv)  # ms x 1e6 would not fit an int64: refused before
    assert overflow.code == ExitCode.USAGE
    assert_one_line_error(overflow, f"{agg}:4: transact_time 99999999999999 is after "
                                    "2261-12-31T23:59:59Z")
    assert not (tmp_path / "out").exists()


def test_tape_bounds_are_in_the_help(cli) -> None:  # type: ignore[no-untyped-def]
    epilog = " ".join(cli("tape", "check", "--help").out.split())
    assert (f"rows from 1970-01-01 to 2261-12-31, at most {MAX_SPAN_DAYS} days from the first "
            f"to the last; prices at most {MAX_PRICE:g}, quantities at most 1e+15") in epilog
