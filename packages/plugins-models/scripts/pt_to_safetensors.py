#!/usr/bin/env python3
"""Writes the tensors of a PyTorch checkpoint (.pt / .pth) as a safetensors file, by hand.

Usage: python3 pt_to_safetensors.py <checkpoint.pt> <out.safetensors>

Needs only torch (Debian: python3-torch); the `safetensors` package is not required. Unwraps the
state dict the way PPG-Distill's load_state_dict_gpt finds it: under "model_state_dict" (.pt),
"model" (.pth) or "state_dict", or the dict itself. Floating tensors are written as F32;
anything else (step counters, optimizer state, configs) is skipped and listed. Names are kept
as they are: `fairtune models import` removes module. / _orig_mod. / gpt. prefixes itself.

torch.load unpickles the file, which can run code: use it only on checkpoints you trust.
"""
import json
import struct
import sys

import torch


def load_state_dict(path):
    try:
        obj = torch.load(path, map_location="cpu", weights_only=False)
    except TypeError:  # torch < 1.13 has no weights_only
        obj = torch.load(path, map_location="cpu")
    for key in ("model_state_dict", "model", "state_dict"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            return obj[key], key
    if isinstance(obj, dict):
        return obj, None
    if isinstance(obj, torch.nn.Module):
        return obj.state_dict(), "module"
    raise SystemExit(f"{path}: expected a state dict (or a dict holding one under model_state_dict/model/state_dict), got {type(obj).__name__}")


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        data = tensors[name].detach().to(torch.float32).contiguous().cpu().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    src, dst = sys.argv[1], sys.argv[2]
    state, where = load_state_dict(src)
    tensors, skipped = {}, []
    for name, value in state.items():
        if torch.is_tensor(value) and value.is_floating_point():
            tensors[name] = value
        else:
            skipped.append(name)
    if not tensors:
        raise SystemExit(f"{src}: no floating-point tensors found{f' under {where!r}' if where else ''}")
    write_safetensors(dst, tensors, {"source": src, "unwrapped": where or ""})
    print(f"{src} -> {dst}: {len(tensors)} tensors{f' (from {where!r})' if where else ''}" + (f"; skipped (not float tensors): {', '.join(skipped)}" if skipped else ""))


if __name__ == "__main__":
    main()
