#!/usr/bin/env python3
"""Plain-PyTorch PPG-GPT with PPG-Distill's module names, for the converter oracle.

Usage: ppg_distill_reference.py <out_dir> <windows.f32> <n> <d_model> <n_heads> <n_layers> <patch> <seed> [halves]

Re-implements, from reading LingFengGold/PPG-Distill (model/gpt.py GPT + GPTLayer + RMSNorm,
model/attention.py MultiHeadAttention + Attention + PositionwiseFeedForward, model/embedding.py
PatchEmbedding), the modules whose state-dict names the converter maps, with random weights
(seeded, norm scales and biases away from their initial values so every one matters). RoPE is
written out as rotary_embedding_torch does it (that library is not installed here):
RotaryEmbedding(d_head // 2) keeps freqs = 1 / θ^(arange(0, dim, 2) / dim) as a non-trainable
Parameter, repeats each frequency for an interleaved pair ('... n -> ... (n r)', r = 2) and
rotate_half maps pairs (x1, x2) to (-x2, x1), on the first `dim` features; the rest pass. With
the extra argument "halves" it rotates (first half, second half) pairs instead (GPT-NeoX style),
to show the oracle tells the two apart.

Writes <out_dir>/ckpt.pt ({"model_state_dict": state dict with "_orig_mod." prefixes}, the
"saurabh" .pt layout PPG-Distill loads) and prints JSON: the encoder output with full attention
(fine-tuning, apply_mask=False), with causal attention, and the Logit-Laplace head's mu and
log b on the causal pass (positions 0 .. N-1), all computed in float64 from the float32 weights.
"""
import json
import math
import sys

import torch
import torch.nn as nn

HALVES = False


def rotate_half(x):
    if HALVES:
        x1, x2 = x.chunk(2, dim=-1)
        return torch.cat((-x2, x1), dim=-1)
    x = x.reshape(*x.shape[:-1], -1, 2)
    x1, x2 = x.unbind(dim=-1)
    return torch.stack((-x2, x1), dim=-1).flatten(-2)


class RotaryEmbedding(nn.Module):
    def __init__(self, dim, theta=10000):
        super().__init__()
        freqs = 1.0 / (theta ** (torch.arange(0, dim, 2)[: (dim // 2)].float() / dim))
        self.freqs = nn.Parameter(freqs, requires_grad=False)

    def rotate_queries_or_keys(self, t):
        seq = torch.arange(t.shape[-2], dtype=t.dtype)
        freqs = torch.einsum("i,j->ij", seq, self.freqs.to(t.dtype))
        freqs = torch.cat((freqs, freqs), dim=-1) if HALVES else freqs.repeat_interleave(2, dim=-1)
        rot = freqs.shape[-1]
        t_rot, t_pass = t[..., :rot], t[..., rot:]
        t_rot = t_rot * freqs.cos() + rotate_half(t_rot) * freqs.sin()
        return torch.cat((t_rot, t_pass), dim=-1)


class Attention(nn.Module):
    def __init__(self, d_head):
        super().__init__()
        self.rotary_embed = RotaryEmbedding(d_head // 2)

    def forward(self, q, k, v, causal):
        q = self.rotary_embed.rotate_queries_or_keys(q)
        k = self.rotary_embed.rotate_queries_or_keys(k)
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.size(-1))
        if causal:
            scores = scores.masked_fill(torch.triu(torch.ones_like(scores), 1).bool(), float("-inf"))
        return torch.softmax(scores, dim=-1) @ v


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, n_head):
        super().__init__()
        self.n_head = n_head
        self.attention = Attention(d_model // n_head)
        self.w_q = nn.Linear(d_model, d_model)
        self.w_k = nn.Linear(d_model, d_model)
        self.w_v = nn.Linear(d_model, d_model)
        self.w_concat = nn.Linear(d_model, d_model)

    def split(self, t):
        b, n, d = t.shape
        return t.view(b, n, self.n_head, d // self.n_head).transpose(1, 2)

    def forward(self, x, causal):
        q, k, v = self.split(self.w_q(x)), self.split(self.w_k(x)), self.split(self.w_v(x))
        out = self.attention(q, k, v, causal)
        b, h, n, dh = out.shape
        return self.w_concat(out.transpose(1, 2).contiguous().view(b, n, h * dh))


class RMSNorm(nn.Module):
    def __init__(self, d, epsilon=1e-8):
        super().__init__()
        self.epsilon = epsilon
        self.scale = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return self.scale * (x / torch.sqrt(torch.mean(x**2, dim=-1, keepdim=True) + self.epsilon))


class PositionwiseFeedForward(nn.Module):
    def __init__(self, d_model, hidden):
        super().__init__()
        self.linear1 = nn.Linear(d_model, hidden)
        self.linear2 = nn.Linear(hidden, d_model)

    def forward(self, x):
        return self.linear2(torch.relu(self.linear1(x)))


class GPTLayer(nn.Module):
    def __init__(self, d_model, n_heads):
        super().__init__()
        self.norm_1 = RMSNorm(d_model)
        self.norm_2 = RMSNorm(d_model)
        self.attn = MultiHeadAttention(d_model, n_heads)
        self.ffn = PositionwiseFeedForward(d_model, 4 * d_model)

    def forward(self, x, causal):
        x = x + self.attn(self.norm_1(x), causal)
        return x + self.ffn(self.norm_2(x))


class PatchEmbedding(nn.Module):
    def __init__(self, patch_size, d_model):
        super().__init__()
        self.linear = nn.Linear(patch_size, d_model)
        self.sep = nn.Parameter(torch.randn(d_model))

    def forward(self, x):
        x = self.linear(x)
        return torch.cat([self.sep.reshape(1, 1, -1).repeat(x.shape[0], 1, 1), x], dim=1)


class GPT(nn.Module):
    def __init__(self, patch_size, d_model, n_heads, n_layers):
        super().__init__()
        self.patch_size = patch_size
        self.patch_embedding = PatchEmbedding(patch_size, d_model)
        self.gpt_layers = nn.ModuleList([GPTLayer(d_model, n_heads) for _ in range(n_layers)])
        self.head = nn.Linear(d_model, 2 * patch_size)

    def encode(self, x, causal):
        x = self.patch_embedding((1 - 2 * 0.1) * x + 0.1)  # GPT.clamp, eps 0.1 (Logit-Laplace models)
        for layer in self.gpt_layers:
            x = layer(x, causal)
        return x


def main():
    global HALVES
    out_dir, windows, n, d, h, layers, p, seed = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:9])
    HALVES = len(sys.argv) > 9 and sys.argv[9] == "halves"
    torch.manual_seed(seed)
    model = GPT(p, d, h, layers)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("rotary_embed.freqs"):
                continue
            if name.endswith(".scale"):
                param.copy_(1 + 0.2 * torch.randn_like(param))
            elif name.endswith(".bias"):
                param.copy_(0.1 * torch.randn_like(param))
    torch.save({"model_state_dict": {"_orig_mod." + k: v for k, v in model.state_dict().items()}, "epoch": 19}, f"{out_dir}/ckpt.pt")

    raw = torch.from_numpy(__import__("numpy").fromfile(windows, dtype="<f4").copy()).double().reshape(n, -1)
    # The data pipeline's per-window min-max to [0, 1]; the model clamps to [0.1, 0.9] itself.
    lo, hi = raw.min(dim=1, keepdim=True).values, raw.max(dim=1, keepdim=True).values
    x = ((raw - lo) / (hi - lo)).reshape(n, -1, p)
    model = model.double().eval()
    with torch.no_grad():
        full = model.encode(x, causal=False)
        causal = model.encode(x, causal=True)
        y = model.head(causal)
        y = y.reshape(n, y.shape[1], 2, p).permute(0, 2, 1, 3)[:, :, :-1, :]  # (B, 2, N, P): mu, log b
    print(json.dumps({"full": full.flatten().tolist(), "causal": causal.flatten().tolist(), "mu": y[:, 0].flatten().tolist(), "logb": y[:, 1].flatten().tolist()}))


if __name__ == "__main__":
    main()
