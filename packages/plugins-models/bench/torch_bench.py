"""PyTorch reference for `npm run bench:train`: the same PPG-GPT architecture and shapes as
src/ppg-gpt/model.ts (patch embedding + start token, pre-norm RMSNorm blocks, fused qkv,
interleaved RoPE on half of each head's dims, ReLU FFN, dropout 0.1, mean pool -> LayerNorm ->
GELU(tanh) -> Linear, L1 loss, Adam lr 1e-4). Prints one JSON line {"ms": median ms/step, "params": n}.
Run with Debian's /usr/bin/python3 (python3-torch); OpenBLAS via libopenblas0-pthread."""
import argparse, json, math, time
import torch
import torch.nn as nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
for k, v in dict(d=128, heads=4, layers=4, length=1200, patch=40, batch=64, steps=10, warmup=2, threads=1).items():
    p.add_argument(f"--{k}", type=int, default=v)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)


class RMSNorm(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return self.scale * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-8)


def rope_tables(T, dh, theta=10000.0):
    r = dh // 2
    freqs = 1.0 / theta ** (torch.arange(0, r, 2).float() / r)
    ang = torch.arange(T).float()[:, None] * freqs[None, :]
    ang = ang.repeat_interleave(2, dim=-1)
    cos = torch.ones(T, dh)
    sin = torch.zeros(T, dh)
    cos[:, :r] = ang.cos()
    sin[:, :r] = ang.sin()
    return cos, sin


def rotate_half_interleaved(x, r):
    xr = x[..., :r].reshape(*x.shape[:-1], r // 2, 2)
    x1, x2 = xr.unbind(-1)
    rot = torch.stack((-x2, x1), dim=-1).reshape(*x.shape[:-1], r)
    return torch.cat((rot, torch.zeros_like(x[..., r:])), dim=-1)


class Block(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.h, self.dh = h, d // h
        self.n1, self.n2 = RMSNorm(d), RMSNorm(d)
        self.qkv, self.o = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.f1, self.f2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
        self.drop = nn.Dropout(0.1)

    def forward(self, x, cos, sin):
        B, T, d = x.shape
        q, k, v = self.qkv(self.n1(x)).split(d, dim=-1)
        q, k, v = (t.view(B, T, self.h, self.dh).transpose(1, 2) for t in (q, k, v))
        r = self.dh // 2
        q = q * cos + rotate_half_interleaved(q, r) * sin
        k = k * cos + rotate_half_interleaved(k, r) * sin
        att = self.drop(torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(self.dh), dim=-1))
        y = (att @ v).transpose(1, 2).reshape(B, T, d)
        x = x + self.drop(self.o(y))
        return x + self.drop(self.f2(self.drop(F.relu(self.f1(self.n2(x))))))


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        d = a.d
        self.embed = nn.Linear(a.patch, d)
        self.start = nn.Parameter(torch.randn(1, 1, d) * 0.02)
        self.blocks = nn.ModuleList(Block(d, a.heads) for _ in range(a.layers))
        self.lm = nn.Linear(d, 2 * a.patch)  # Logit-Laplace head: part of the backbone, unused here
        self.ln = nn.LayerNorm(d)
        self.out = nn.Linear(d, 1)
        T = a.length // a.patch + 1
        self.cos, self.sin = rope_tables(T, d // a.heads)

    def forward(self, x):
        B = x.shape[0]
        e = self.embed(x.view(B, -1, a.patch))
        h = torch.cat([self.start.expand(B, 1, -1), e], dim=1)
        for blk in self.blocks:
            h = blk(h, self.cos, self.sin)
        return self.out(F.gelu(self.ln(h.mean(1)), approximate="tanh")).squeeze(-1)


m = Model()
opt = torch.optim.Adam(m.parameters(), lr=1e-4)
x = torch.rand(a.batch, a.length) * 0.8 + 0.1
y = torch.randn(a.batch)


def step():
    opt.zero_grad(set_to_none=True)
    loss = F.l1_loss(m(x), y)
    loss.backward()
    opt.step()
    return loss.item()


for _ in range(a.warmup):
    step()
times = []
for _ in range(a.steps):
    t0 = time.perf_counter()
    step()
    times.append((time.perf_counter() - t0) * 1000)
times.sort()
print(json.dumps({"ms": times[len(times) // 2], "params": sum(q.numel() for q in m.parameters())}))
