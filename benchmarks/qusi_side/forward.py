"""qusi side of bench_vs_qusi.py: times qusi's Hadryss forward pass on request (runs in the qusi venv).

Reads one JSON command per line on stdin and answers one JSON line on stdout:

* ``{"setup": {"length": L, "batch": B, "threads": T}}`` builds ``Hadryss.new(input_length=L)`` (eval mode)
  and a random batch; answers its FLOPs per curve (``torch.utils.flop_counter``), pooling and parameters;
* ``{"time": n}`` runs the forward pass ``n`` times under ``torch.no_grad`` (as qusi's ``infer_phase``)
  and answers the wall time and the process CPU time (all threads) of each.

The driver alternates these requests with its own timings, so both sides see the same machine load.
"""

from __future__ import annotations

import json
import sys
import time


def main() -> None:
    import torch
    from qusi.model import Hadryss
    from torch.utils.flop_counter import FlopCounterMode

    model = None
    batch = None
    for line in sys.stdin:
        request = json.loads(line)
        if "setup" in request:
            setup = request["setup"]
            torch.set_num_threads(int(setup["threads"]))
            torch.manual_seed(0)
            model = Hadryss.new(input_length=int(setup["length"])).eval()
            batch = torch.randn(int(setup["batch"]), int(setup["length"]))
            counter = FlopCounterMode(display=False)
            with counter, torch.no_grad():
                model(batch[:1])
            pooling, dense = model.determine_block_pooling_sizes_and_dense_size()
            with torch.no_grad():
                model(batch)  # warm-up: oneDNN primitive creation, allocator
            answer = {"flops": int(counter.get_total_flops()), "pooling": pooling, "dense": dense,
                      "parameters": sum(p.numel() for p in model.parameters()), "torch": torch.__version__,
                      "threads": torch.get_num_threads()}
        elif "time" in request:
            assert model is not None and batch is not None
            times, cpu_times = [], []
            with torch.no_grad():
                for _ in range(int(request["time"])):
                    started, cpu_started = time.perf_counter(), time.process_time()
                    model(batch)
                    times.append(time.perf_counter() - started)
                    cpu_times.append(time.process_time() - cpu_started)
            answer = {"times": times, "cpu_times": cpu_times}
        else:
            answer = {"error": f"unknown request {request}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
