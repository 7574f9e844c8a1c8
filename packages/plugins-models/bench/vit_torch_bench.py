"""PyTorch side of bench:vit: the same ViT shapes (timm math, plain torch), BCE on one logit, Adam,
full fine-tuning. usage: vit_torch_bench.py image patch dim depth heads batch warmup steps -> ms/step (median)"""
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

S, P, D, L, H, B, W, N = map(int, sys.argv[1:9])
torch.set_num_threads(1)
torch.manual_seed(0)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(D, eps=1e-6), nn.LayerNorm(D, eps=1e-6)
        self.qkv, self.proj = nn.Linear(D, 3 * D), nn.Linear(D, D)
        self.fc1, self.fc2 = nn.Linear(D, 4 * D), nn.Linear(4 * D, D)

    def forward(self, x):
        b, t, _ = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, t, 3, H, D // H).permute(2, 0, 3, 1, 4)
        a = ((q * (D // H) ** -0.5) @ k.transpose(-2, -1)).softmax(-1)
        x = x + self.proj((a @ v).transpose(1, 2).reshape(b, t, D))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class ViT(nn.Module):
    def __init__(self):
        super().__init__()
        self.patch = nn.Conv2d(3, D, P, P)
        self.cls = nn.Parameter(torch.zeros(1, 1, D))
        self.pos = nn.Parameter(torch.randn(1, (S // P) ** 2 + 1, D) * 0.02)
        self.blocks = nn.ModuleList([Block() for _ in range(L)])
        self.norm, self.head = nn.LayerNorm(D, eps=1e-6), nn.Linear(D, 1)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.pos
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.norm(x[:, 0]))[:, 0]


m = ViT()
opt = torch.optim.Adam(m.parameters(), lr=1e-4)
x = torch.randn(B, 3, S, S)
y = (torch.rand(B) > 0.5).float()
times = []
for i in range(W + N):
    t0 = time.perf_counter()
    opt.zero_grad()
    F.binary_cross_entropy_with_logits(m(x), y).backward()
    opt.step()
    if i >= W:
        times.append(1000 * (time.perf_counter() - t0))
print(f"{statistics.median(times):.1f}")
