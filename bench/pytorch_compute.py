#!/usr/bin/env python3
"""The compute benchmark's PyTorch side: the same PtychoPINN network and
training step as src/model (network.ts, pinn.ts, physics/), written in plain
PyTorch, timed the way bench/compute.ts times ours.

Run by `npm run bench -- compute --backends ...,pytorch` (or directly:
`python3 bench/pytorch_compute.py --configs a,b --steps 3`). Needs PyTorch
(Debian: `apt-get install python3-torch`, 1.13); it is a benchmark aid, not a
dependency of ptychoflow. One JSON line per measurement on stdout, with the
fields of bench/compute.ts and backend "pytorch".

What one step does, as in PtychoPINN.trainStep: the network (NCHW here, the
layout PyTorch's CPU convolutions are built for), amplitude·e^{i·phase}, for
gridsize 2 the per-group overlap average (bilinear placement on a per-group
canvas, support-mask count, bilinear re-extraction), probe multiply, centred
2-D FFT (torch.fft), Poisson NLL, backward, Adam. Inference is the network
and the complex patches, as in PtychoPINN.predict.
"""
import argparse
import json
import math
import sys
import time

import torch
import torch.nn.functional as F

C_OUTER = 4

CONFIGS = {
    "a": dict(N=32, gridsize=1, batch=8, filters_scale=1.0),
    "b": dict(N=64, gridsize=2, batch=16, filters_scale=2.0),
}


def scaled(base, f):
    return max(1, round(base * f))


def plan(N, gridsize, f, support):
    L = int(math.log2(N // 8))
    encoder = [scaled(128 / 2 ** (L - 1 - i), f) for i in range(L)]
    body = [scaled(32 * 2 ** (L - 2 - j), f) for j in range(L - 1)]
    body_channels = body[-1] if body else encoder[-1]
    return dict(N=N, C=gridsize * gridsize, support=support, encoder=encoder, body=body,
                body_channels=body_channels, up=scaled(2048 / N, f))


def conv(cin, cout):
    c = torch.nn.Conv2d(cin, cout, 3, padding=1)
    torch.nn.init.xavier_uniform_(c.weight)
    torch.nn.init.zeros_(c.bias)
    return c


class Decoder(torch.nn.Module):
    def __init__(self, p, cin, kind):
        super().__init__()
        self.p, self.kind = p, kind
        self.blocks = torch.nn.ModuleList()
        for f in p["body"]:
            self.blocks.append(torch.nn.ModuleList([conv(cin, f), conv(f, f)]))
            cin = f
        if p["support"] == "full":
            self.up = torch.nn.ModuleList([conv(cin, p["up"]), conv(p["up"], p["up"])])
            self.head = conv(p["up"], p["C"])
        else:
            self.head = conv(cin - C_OUTER, p["C"])

    def act(self, x):
        return torch.sigmoid(x) if self.kind == "amp" else torch.tanh(x) * math.pi

    def forward(self, x):
        for c0, c1 in self.blocks:
            x = F.interpolate(F.relu(c1(F.relu(c0(x)))), scale_factor=2, mode="nearest")
        if self.p["support"] == "full":
            x = F.interpolate(F.relu(self.up[1](F.relu(self.up[0](x)))), scale_factor=2, mode="nearest")
            return self.act(self.head(x))
        q = self.p["N"] // 4
        return F.pad(self.act(self.head(x[:, : x.shape[1] - C_OUTER])), (q, q, q, q))


class Network(torch.nn.Module):
    def __init__(self, p):
        super().__init__()
        self.enc = torch.nn.ModuleList()
        cin = p["C"]
        for f in p["encoder"]:
            self.enc.append(torch.nn.ModuleList([conv(cin, f), conv(f, f)]))
            cin = f
        self.amp = Decoder(p, cin, "amp")
        self.phase = Decoder(p, cin, "phase")

    def forward(self, x):
        for c0, c1 in self.enc:
            x = F.max_pool2d(F.relu(c1(F.relu(c0(x)))), 2)
        a, ph = self.amp(x), self.phase(x)
        return a * torch.cos(ph), a * torch.sin(ph)


def shift_sample(planes, shifts, out_hw):
    """out[q] = planes[q + shift] (bilinear, zero outside), planes (M,1,H,W), shifts (M,2) [x, y] in pixels."""
    M, _, H, W = planes.shape
    oh, ow = out_hw
    xs = (torch.arange(ow, dtype=planes.dtype).view(1, 1, ow) + shifts[:, 0].view(M, 1, 1)).expand(M, oh, ow)
    ys = (torch.arange(oh, dtype=planes.dtype).view(1, oh, 1) + shifts[:, 1].view(M, 1, 1)).expand(M, oh, ow)
    # grid_sample's normalised coordinates of input pixel centres (align_corners=False).
    grid = torch.stack([(2 * xs + 1) / W - 1, (2 * ys + 1) / H - 1], dim=-1)
    return F.grid_sample(planes, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def reassemble(re, im, offsets, N, support):
    """Per-group overlap average and re-extraction (physics/overlap.ts), NCHW: re/im (B,C,N,N), offsets (B,2,C)."""
    B, C = re.shape[0], re.shape[1]
    pad = math.ceil(offsets.abs().max().item())
    P = N + 2 * pad
    o = offsets.permute(0, 2, 1).reshape(B * C, 2)
    place_at, take_at = o - pad, pad - o
    lo = (N - support) // 2
    mask = torch.zeros(B * C, 1, N, N)
    mask[:, :, lo:lo + support, lo:lo + support] = 1
    count = shift_sample(mask, place_at, (P, P)).view(B, C, P, P).sum(1)
    safe = torch.where(count > 0, count, torch.ones_like(count))

    def one(x):
        canvas = shift_sample(x.reshape(B * C, 1, N, N), place_at, (P, P)).view(B, C, P, P).sum(1) / safe
        copies = canvas.view(B, 1, P, P).expand(B, C, P, P).reshape(B * C, 1, P, P)
        return shift_sample(copies, take_at, (N, N)).view(B, C, N, N)

    return one(re), one(im)


def far_field(re, im, probe):
    psi = torch.complex(re, im) * probe
    far = torch.fft.fftshift(torch.fft.fft2(psi, norm="ortho"), dim=(-2, -1))
    return torch.sqrt(far.real ** 2 + far.imag ** 2 + 1e-12)


def gaussian_probe(N):
    y, x = torch.meshgrid(torch.arange(N, dtype=torch.float32), torch.arange(N, dtype=torch.float32), indexing="ij")
    r2 = (x - N / 2) ** 2 + (y - N / 2) ** 2
    s = N / 8
    a = torch.exp(-r2 / (2 * s * s))
    p = torch.complex(a * torch.cos(0.01 * r2), a * torch.sin(0.01 * r2))
    return p / (p.abs().mean() * 4)


def time_it(reps, warmup, f):
    for _ in range(warmup):
        f()
    t0 = time.perf_counter()
    for _ in range(reps):
        f()
    return (time.perf_counter() - t0) * 1000 / reps


def measure(cid, cfg, steps, emit):
    N, g, B, fs = cfg["N"], cfg["gridsize"], cfg["batch"], cfg["filters_scale"]
    C = g * g
    probe = gaussian_probe(N)
    # Object support as ours picks it for this probe ('auto': centre when ≥ 95 % of |P|² lies in the central square).
    power = probe.abs() ** 2
    q = N // 4
    support = "center" if power[q:N - q, q:N - q].sum() >= 0.95 * power.sum() else "full"
    p = plan(N, g, fs, support)
    torch.manual_seed(1)
    net = Network(p)
    params = sum(t.numel() for t in net.parameters())
    X = torch.rand(B, C, N, N)
    offsets = torch.zeros(B, 2, C) if C == 1 else (torch.rand(B, 2, C) - 0.5) * N / 4
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    scale = math.sqrt(1e9) / (N / 2)
    base = dict(bench="compute", backend="pytorch", model="pinn", config=cid, N=N, gridsize=g, batch=B,
                filters_scale=fs, params=params, threads=torch.get_num_threads(), torch=torch.__version__)

    def train_step():
        opt.zero_grad(set_to_none=True)
        re, im = net(X)
        if C > 1:
            re, im = reassemble(re, im, offsets, N, N // 2 if support == "center" else N)
        A = far_field(re, im, probe)
        lam = (A * scale) ** 2
        y = (X * scale) ** 2
        loss = (lam - y * torch.log(lam + 1e-12)).mean()
        loss.backward()
        opt.step()
        return loss.item()

    train = time_it(steps, 1, train_step)
    emit(dict(base, phase="train", steps=steps, ms_per_batch=round(train), samples_per_s=round(B * 1000 / train, 2)))

    def infer():
        with torch.no_grad():
            re, im = net(X)
            re.numpy()

    inf = time_it(steps, 1, infer)
    emit(dict(base, phase="infer", steps=steps, ms_per_batch=round(inf), samples_per_s=round(B * 1000 / inf, 2)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", default="a,b")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)

    def emit(rec):
        sys.stdout.write(json.dumps(rec) + "\n")
        sys.stdout.flush()

    for cid in a.configs.split(","):
        measure(cid, CONFIGS[cid], a.steps, emit)


if __name__ == "__main__":
    main()
