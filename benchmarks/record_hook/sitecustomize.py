"""Request recording for helper processes of the benchmark's warm-up sync (not part of the project).

The benchmark puts this directory on PYTHONPATH and sets BENCH_RECORD_DIR while the warm-up sync
runs, so the Retell detail worker (a separate process) records the requests it sends, exactly as
`benchmarks.run.Recorder` does in the benchmark process; the fetch floor replays both.
"""

import os

if os.environ.get("BENCH_RECORD_DIR"):
    import pickle
    import threading

    import httpx

    _path = os.path.join(os.environ["BENCH_RECORD_DIR"], f"{os.getpid()}.pickle")
    _lock = threading.Lock()
    _original = httpx.Client.send

    def _send(client, request, **kwargs):
        record = (request.method, str(request.url), request.headers.multi_items(), request.content)
        with _lock, open(_path, "ab") as out:
            pickle.dump(record, out)
        return _original(client, request, **kwargs)

    httpx.Client.send = _send
