"""The merge that appends chunks' row groups without decoding them (sim.results.parquet_append):
the merged file reads back as the chunks' rows in order, through every reader, and whatever it
cannot append as it is (another schema, rows out of order or overlapping) it declines."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.results import ResultsFolder
from sim.results.parquet_append import append_row_groups

KEYS = ("point", "run", "round")


def rounds_chunk(point: int, runs: range, rng: np.random.Generator, rounds: int = 3) -> pa.Table:
    """A rounds-like table: every column type negsim writes (labels, floats with NaN, flags, int16 lists, nulls)."""
    run = np.repeat(np.array(runs, dtype=np.int64), rounds)
    n = len(run)
    text = rng.integers(0, 5, size=(n, 4)).astype(np.int16).reshape(-1)
    utility = rng.random(n)
    utility[rng.random(n) < 0.1] = np.nan
    return pa.table({
        "point": np.full(n, point, dtype=np.int64), "run": run, "round": np.tile(np.arange(rounds), len(runs)),
        "actor": pa.array(rng.choice(["us", "ru", "ua", "eu"], n).tolist(), pa.string()),
        "utility": utility, "accepted": rng.random(n) < 0.5,
        "walked_away": pa.array([None if x < 0.7 else "ru" for x in rng.random(n)], pa.string()),
        "text": pa.FixedSizeListArray.from_arrays(pa.array(text), 4),
    })


def rows(table: pa.Table) -> list[dict]:
    """The rows as dicts, NaN spelled out (NaN != NaN would fail an equal comparison)."""
    return [{k: "NaN" if isinstance(v, float) and v != v else v for k, v in row.items()} for row in table.to_pylist()]


def write_chunks(tmp_path, tables: list[pa.Table]) -> ResultsFolder:
    folder = ResultsFolder.create(tmp_path / "f")
    for cid, table in enumerate(tables):
        # A chunk counts as finished once its runs file is there.
        keys = pa.table({"point": table["point"], "run": table["run"]}).group_by(["point", "run"]).aggregate([])
        folder.write_chunk(cid, {"rounds": table, "runs": keys})
    return folder


def test_row_groups_record_statistics_of_the_keys_alone(tmp_path):
    # The merge and the explorer's reads by run rely on the keys' statistics; the others' cost time.
    folder = write_chunks(tmp_path, [rounds_chunk(0, range(3, 9), np.random.default_rng(1))])
    group = pq.ParquetFile(folder.chunk_file("rounds", 0)).metadata.row_group(0)
    recorded = {group.column(i).path_in_schema: group.column(i).statistics for i in range(group.num_columns)}
    assert {name for name, stats in recorded.items() if stats is not None and stats.has_min_max} == set(KEYS)
    assert (recorded["run"].min, recorded["run"].max) == (3, 8)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=st.lists(st.integers(0, 40), min_size=1, max_size=6), points=st.integers(1, 3), seed=st.integers(0, 99))
def test_appended_chunks_read_back_as_the_chunks_in_order(tmp_path_factory, sizes, points, seed):
    rng = np.random.default_rng(seed)
    tables, start = [], 0
    for point in range(points):
        for size in sizes:
            tables.append(rounds_chunk(point, range(start, start + size), rng))
            start += size
    folder = write_chunks(tmp_path_factory.mktemp("a"), tables)
    files = [folder.chunk_file("rounds", cid) for cid in range(len(tables))]
    target = folder.path / "rounds.parquet"
    count = append_row_groups(files, KEYS, target)
    expected = pa.concat_tables(tables)
    assert count == expected.num_rows
    merged = pq.read_table(target)
    assert merged.schema.remove_metadata() == expected.schema.remove_metadata() or merged.num_rows == 0
    assert rows(merged) == rows(expected)
    # Every way in reads the same rows: row group by row group, as a dataset, through pandas.
    meta = pq.ParquetFile(target)
    by_group = [meta.read_row_group(i) for i in range(meta.num_row_groups)]
    assert sum(g.num_rows for g in by_group) == expected.num_rows
    assert ds.dataset(target).to_table().num_rows == expected.num_rows
    assert len(pq.read_table(target, columns=["run", "utility"]).to_pandas()) == expected.num_rows


def test_the_merge_of_a_folder_uses_the_append_and_gives_the_sorted_table(tmp_path, monkeypatch):
    import sim.results.chunks

    rng = np.random.default_rng(1)
    tables = [rounds_chunk(0, range(10 * k, 10 * k + 10), rng) for k in range(4)]
    # A chunk's rows shuffled: the chunk is written sorted all the same.
    tables[2] = tables[2].take(rng.permutation(tables[2].num_rows))
    folder = write_chunks(tmp_path, tables)
    decoded = []
    monkeypatch.setattr(sim.results.chunks.ChunkMerge, "_decode_merge", lambda self, name: decoded.append(name))
    assert folder.merge()["rounds"] == 120
    assert decoded == []  # every chunk appended as it is
    merged = pq.read_table(folder.path / "rounds.parquet")
    expected = pa.concat_tables(tables).sort_by([(k, "ascending") for k in KEYS])
    assert rows(merged) == rows(expected)


def test_what_cannot_be_appended_is_declined_and_nothing_written(tmp_path):
    rng = np.random.default_rng(2)
    a, b = rounds_chunk(0, range(0, 5), rng), rounds_chunk(0, range(5, 10), rng)
    cases = {
        "out of order": [b, a],
        "overlapping": [a, rounds_chunk(0, range(4, 8), rng)],
        "another schema": [a, b.drop_columns(["walked_away"])],
    }
    for name, tables in cases.items():
        folder = write_chunks(tmp_path / name.replace(" ", "-"), tables)
        files = [folder.chunk_file("rounds", cid) for cid in range(len(tables))]
        target = folder.path / "rounds.parquet"
        assert append_row_groups(files, KEYS, target) is None, name
        assert not target.exists() and not list(folder.path.glob(".*.tmp")), name
    # A file written without its sort order recorded (an older negsim's chunk) is declined too.
    plain = tmp_path / "plain.parquet"
    pq.write_table(a, plain)
    assert append_row_groups([plain], KEYS, tmp_path / "out.parquet") is None


@pytest.mark.parametrize("shuffle", [False, True])
def test_declined_chunks_still_merge_by_decoding(tmp_path, shuffle):
    rng = np.random.default_rng(3)
    tables = [rounds_chunk(0, range(5, 10), rng), rounds_chunk(0, range(0, 5), rng)]  # ids out of run order
    if shuffle:
        tables = [t.take(rng.permutation(t.num_rows)) for t in tables]
    folder = write_chunks(tmp_path, tables)
    assert folder.merge()["rounds"] == 30
    runs = pq.read_table(folder.path / "rounds.parquet")["run"].to_pylist()
    assert runs == sorted(runs)


def test_chunks_are_appended_as_they_finish_in_plan_order(tmp_path):
    """The job's merge runs alongside it: a chunk is appended once every chunk before it is, whatever
    order they finish in; the chunks stay until the end, and an abort leaves no temporary."""
    rng = np.random.default_rng(4)
    tables = [rounds_chunk(0, range(10 * k, 10 * k + 10), rng) for k in range(3)]
    folder = write_chunks(tmp_path, tables)
    merging = folder.start_merge([0, 1, 2])
    temporaries = lambda: sorted(p.name for p in folder.path.glob(".*.tmp"))  # noqa: E731
    merging.chunk_done(2)
    assert temporaries() == []  # chunk 2 waits for 0 and 1
    merging.chunk_done(0)
    assert len(temporaries()) == 2  # runs and rounds, chunk 0 appended
    size = sum((folder.path / name).stat().st_size for name in temporaries())
    merging.chunk_done(1)  # 1, then the waiting 2
    assert sum((folder.path / name).stat().st_size for name in temporaries()) > size
    assert folder.finished_chunks() == {0, 1, 2}
    assert merging.finish() == {"runs": 30, "rounds": 90}
    expected = pa.concat_tables(tables).sort_by([(k, "ascending") for k in KEYS])
    assert rows(pq.read_table(folder.path / "rounds.parquet")) == rows(expected)
    assert temporaries() == [] and not folder.chunk_dir.exists()

    again = write_chunks(tmp_path / "again", tables)
    merging = again.start_merge([0, 1, 2])
    merging.chunk_done(0)
    merging.abort()
    assert not list(again.path.glob(".*.tmp")) and again.finished_chunks() == {0, 1, 2}
