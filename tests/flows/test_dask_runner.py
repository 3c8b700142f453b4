"""The scan flow on a Dask cluster: two worker processes assess the batches into the same store."""

from __future__ import annotations

import shutil

import pytest

import bqat


@pytest.mark.timeout(300)
def test_a_scan_runs_on_a_local_dask_cluster_of_two_workers(tmp_path, samples, set_env):
    from distributed import Client, LocalCluster

    folder = tmp_path / "data"
    folder.mkdir()
    for i, source in enumerate(sorted((samples / "face").glob("*.jpg"))[:4]):
        shutil.copy(source, folder / f"{i}.jpg")
    (folder / "bad.jpg").write_text("not an image")
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        address = cluster.scheduler_address.removeprefix("tcp://")
        set_env(BQAT_TASK_RUNNER=f"dask://{address}")
        summary = bqat.scan(folder, "face", dataset_id="dask", batch_size=1)
        with Client(cluster) as client:
            executed = client.run(lambda dask_worker: dask_worker.state.executed_count)
    assert (summary.discovered, summary.assessed, summary.failed) == (5, 4, 1)
    assert len(bqat.profiles("dask")) == 4
    # the five one-file assess-batch tasks and the compaction ran on the cluster's workers
    assert sum(executed.values()) == 6, executed
