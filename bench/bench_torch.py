#!/usr/bin/python3
"""bench_torch.py - the trainer's speed next to PyTorch's: one epoch of Fashion-MNIST.

For each network (fmnist-cnn, fmnist-resnet) and thread count, trains one epoch with
sttrain (without pruning, the same work as PyTorch, and at p = 0.9) and with PyTorch on
the CPU: the same layers (convolutions with biases, as ours), batch 64, SGD with
momentum 0.9, lr 0.01, weight decay 5e-4, shuffled, the same number of threads. Prints
the wall time of the epoch's training (not the test) and the images per second, every
configuration `--repeat` times, interleaved, and the load average before and after.
Measures, never checks.

    /usr/bin/python3 bench/bench_torch.py [--build DIR] [--images N] [--threads 1,2]
        [--repeat R] [--nets fmnist-cnn,fmnist-resnet] [--no-pruned]

PyTorch is for this benchmark only: when Debian's python3-torch is missing the script
installs it (apt-get install -y python3-torch) when it runs as root, else says how.
"""
import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = "/usr/share/datasets/fashion-mnist"


def load_idx(path):
    import numpy as np
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def torch_net(name):
    import torch.nn as nn

    if name == "fmnist-cnn":
        return nn.Sequential(
            nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(1568, 128), nn.ReLU(), nn.Linear(128, 10))

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
            self.bn2 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU()
            self.down = None
            if cin != cout or stride != 1:
                self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0), nn.BatchNorm2d(cout))

        def forward(self, x):
            y = self.relu(self.bn1(self.conv1(x)))
            y = self.bn2(self.conv2(y))
            return self.relu(y + (self.down(x) if self.down is not None else x))

    if name == "fmnist-resnet":
        return nn.Sequential(
            nn.Conv2d(1, 16, 3, 1, 1), nn.BatchNorm2d(16), nn.ReLU(),
            Block(16, 16, 1), Block(16, 32, 2),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))
    raise ValueError("no PyTorch version of network '%s'" % name)


def torch_worker(net, threads, images):
    """One epoch in PyTorch, in this process; prints one JSON line."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    torch.manual_seed(1)
    x = load_idx(os.path.join(DATA, "train-images-idx3-ubyte.gz"))[:images]
    y = load_idx(os.path.join(DATA, "train-labels-idx1-ubyte.gz"))[:images]
    x = torch.from_numpy(x.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
    y = torch.from_numpy(y.astype(np.int64))
    model = torch_net(net)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    perm = torch.randperm(len(x))
    t0 = time.perf_counter()
    c0 = time.process_time()
    for i in range(0, len(x), 64):
        idx = perm[i:i + 64]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
    dt = time.perf_counter() - t0
    dc = time.process_time() - c0
    print(json.dumps({"time_s": dt, "cpu_s": dc, "loss": float(loss),
                      "torch": torch.__version__, "threads": torch.get_num_threads()}))


def have_torch():
    res = subprocess.run(["/usr/bin/python3", "-c", "import torch"], capture_output=True)
    return res.returncode == 0


def ensure_torch():
    if have_torch():
        return True
    if os.geteuid() == 0:
        print("# python3-torch is missing: apt-get install -y python3-torch", file=sys.stderr)
        res = subprocess.run(["apt-get", "install", "-y", "python3-torch"])
        if res.returncode == 0 and have_torch():
            return True
    print("bench_torch: PyTorch is missing; install Debian's package: "
          "sudo apt-get install -y python3-torch", file=sys.stderr)
    return False


def run_ours(args, net, threads, prune):
    cmd = [os.path.join(args.build, "bin", "sttrain"), net, "--json", "--quiet",
           "--threads", str(threads), "--train-images", str(args.images),
           "--test-images", "1000"] + (["p=0.9"] if prune else ["--no-prune"])
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(cmd), res.stderr))
    e = json.loads(res.stdout)["epochs"][0]
    return e["time_s"], e["cpu_s"]


def run_torch(args, net, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    cmd = ["/usr/bin/python3", os.path.abspath(__file__), "--torch-worker", net,
           "--threads", str(threads), "--images", str(args.images)]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if res.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(cmd), res.stderr))
    d = json.loads(res.stdout.strip().splitlines()[-1])
    return d["time_s"], d["cpu_s"], d["torch"]


def loadavg():
    return " ".join(open("/proc/loadavg").read().split()[:3])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--images", type=int, default=60000)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--nets", default="fmnist-cnn,fmnist-resnet")
    ap.add_argument("--no-pruned", action="store_true",
                    help="leave out the sttrain runs at p = 0.9")
    ap.add_argument("--torch-worker", metavar="NET", help=argparse.SUPPRESS)
    args = ap.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    if args.torch_worker:
        torch_worker(args.torch_worker, threads[0], args.images)
        return 0
    if not ensure_torch():
        return 1
    nets = args.nets.split(",")
    print("# %s, %d cores, %d images per epoch, batch 64; load average %s at start"
          % (os.uname().machine, os.cpu_count(), args.images, loadavg()))
    rows = {}
    version = "?"
    fws = ("sttrain", "pytorch") if args.no_pruned else ("sttrain", "sttrain p=0.9", "pytorch")
    for r in range(args.repeat):
        for net in nets:
            for th in threads:
                for fw in fws:
                    if fw == "pytorch":
                        t, c, version = run_torch(args, net, th)
                    else:
                        t, c = run_ours(args, net, th, fw.endswith("0.9"))
                    rows.setdefault((net, th, fw), []).append((t, c))
                    print("# run %d: %-14s %-14s %d thread(s): %.2f s, %.0f images/s, "
                          "load %s" % (r + 1, net, fw, th, t, args.images / t, loadavg()),
                          flush=True)
    print("# PyTorch %s; best of %d runs (and the median), wall time of the training only"
          % (version, args.repeat))
    print("%-14s %-14s %7s %9s %10s %12s %13s" % ("network", "framework", "threads", "best_s",
                                               "img_per_s", "median_img_s", "img_per_cpu_s"))
    for net in nets:
        for th in threads:
            for fw in fws:
                v = rows[net, th, fw]
                best = min(v)
                print("%-14s %-14s %7d %9.2f %10.0f %12.0f %13.0f"
                      % (net, fw, th, best[0], args.images / best[0],
                         args.images / statistics.median(t for t, _ in v),
                         args.images / best[1]))
    print("# load average %s at the end" % loadavg())
    return 0


if __name__ == "__main__":
    sys.exit(main())
