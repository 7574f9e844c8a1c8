"""Reference ViT forward pass in plain PyTorch (timm's VisionTransformer math, no timm), for the
opt-in oracle test (vit-oracle.spec.ts). Reads a safetensors file by hand (Debian has no
safetensors package), uint8 images [N, H, W, 3] from a raw file, and prints JSON:
{"logits": [[...]], "embedding": [[...]], "resampled": [...]?}.

usage: vit_reference.py weights.safetensors images.u8 N S patch dim depth heads mean0,mean1,mean2 std0,std1,std2 [resample_from resample_to]
"""
import json
import struct
import sys

import torch
import torch.nn.functional as F


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        assert e["dtype"] == "F32", (name, e["dtype"])
        b0, b1 = e["data_offsets"]
        t = torch.frombuffer(bytearray(raw[base + b0 : base + b1]), dtype=torch.float32)
        out[name] = t.reshape(e["shape"]).clone()
    return out


def vit_forward(w, x, patch, depth, heads):
    # x: [B, 3, S, S] normalised
    h = F.conv2d(x, w["patch_embed.proj.weight"], w["patch_embed.proj.bias"], stride=patch)
    h = h.flatten(2).transpose(1, 2)  # [B, P, D]
    B, P, D = h.shape
    h = torch.cat([w["cls_token"].expand(B, -1, -1), h], dim=1) + w["pos_embed"]
    dh = D // heads
    for i in range(depth):
        p = f"blocks.{i}."
        a = F.layer_norm(h, (D,), w[p + "norm1.weight"], w[p + "norm1.bias"], eps=1e-6)
        qkv = F.linear(a, w[p + "attn.qkv.weight"], w[p + "attn.qkv.bias"])
        qkv = qkv.reshape(B, P + 1, 3, heads, dh).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        att = (q * dh**-0.5) @ k.transpose(-2, -1)
        att = att.softmax(dim=-1)
        ctx = (att @ v).transpose(1, 2).reshape(B, P + 1, D)
        h = h + F.linear(ctx, w[p + "attn.proj.weight"], w[p + "attn.proj.bias"])
        m = F.layer_norm(h, (D,), w[p + "norm2.weight"], w[p + "norm2.bias"], eps=1e-6)
        m = F.gelu(F.linear(m, w[p + "mlp.fc1.weight"], w[p + "mlp.fc1.bias"]))
        h = h + F.linear(m, w[p + "mlp.fc2.weight"], w[p + "mlp.fc2.bias"])
    h = F.layer_norm(h, (D,), w["norm.weight"], w["norm.bias"], eps=1e-6)
    emb = h[:, 0]
    return F.linear(emb, w["head.weight"], w["head.bias"]), emb


def main():
    a = sys.argv[1:]
    weights, images, n, s, patch, dim, depth, heads = a[0], a[1], *map(int, a[2:8])
    mean = torch.tensor([float(v) for v in a[8].split(",")]).view(1, 3, 1, 1)
    std = torch.tensor([float(v) for v in a[9].split(",")]).view(1, 3, 1, 1)
    torch.set_num_threads(1)
    w = read_safetensors(weights)
    with open(images, "rb") as f:
        u8 = torch.frombuffer(bytearray(f.read()), dtype=torch.uint8).reshape(n, s, s, 3)
    x = (u8.permute(0, 3, 1, 2).float() / 255 - mean) / std
    out = {}
    if len(a) > 10:
        g0, g1 = int(a[10]), int(a[11])
        pos = w["pos_embed"]
        grid = pos[:, 1:].reshape(1, g0, g0, dim).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(g1, g1), mode="bicubic", antialias=True, align_corners=False)
        out["resampled"] = torch.cat([pos[:, :1], grid.permute(0, 2, 3, 1).reshape(1, g1 * g1, dim)], dim=1).flatten().tolist()
    else:
        with torch.no_grad():
            logits, emb = vit_forward(w, x, patch, depth, heads)
        out["logits"] = logits.tolist()
        out["embedding"] = emb.tolist()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
